//! Just enough DER to read the subject CN of an X.509 certificate (RFC 5280 section 4.1).
//!
//! rustls verifies the chain of a client certificate but does not expose its subject; profile
//! 3 needs the CN (White Paper A00.FR.405). The reader is strict: definite lengths of at most
//! four bytes, no trailing bytes where the structure ends, and only the string types a CN is
//! written in (UTF8String, PrintableString, IA5String, BMPString).

use std::fmt;

/// A certificate whose subject could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedCertificate;

impl fmt::Display for MalformedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the certificate's subject could not be read")
    }
}

impl std::error::Error for MalformedCertificate {}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const VERSION: u8 = 0xa0;
/// id-at-commonName, 2.5.4.3.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// Reads one tag-length-value from the front of `input`.
fn tlv<'a>(input: &mut &'a [u8]) -> Result<(u8, &'a [u8]), MalformedCertificate> {
    let (&tag, rest) = input.split_first().ok_or(MalformedCertificate)?;
    if tag & 0x1f == 0x1f {
        return Err(MalformedCertificate);
    }
    let (&first, mut rest) = rest.split_first().ok_or(MalformedCertificate)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err(MalformedCertificate);
        }
        let (bytes, after) = rest.split_at_checked(count).ok_or(MalformedCertificate)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |len, &byte| (len << 8) | usize::from(byte))
    };
    let (value, after) = rest.split_at_checked(len).ok_or(MalformedCertificate)?;
    *input = after;
    Ok((tag, value))
}

/// Reads a TLV that must have tag `expected`.
fn expect<'a>(input: &mut &'a [u8], expected: u8) -> Result<&'a [u8], MalformedCertificate> {
    match tlv(input)? {
        (tag, value) if tag == expected => Ok(value),
        _ => Err(MalformedCertificate),
    }
}

/// The text of a directory string.
fn string(tag: u8, value: &[u8]) -> Result<String, MalformedCertificate> {
    match tag {
        // UTF8String
        0x0c => String::from_utf8(value.to_vec()).map_err(|_| MalformedCertificate),
        // PrintableString, IA5String: ASCII
        0x13 | 0x16 if value.is_ascii() => Ok(String::from_utf8_lossy(value).into_owned()),
        // BMPString: UTF-16 big-endian
        0x1e if value.len().is_multiple_of(2) => char::decode_utf16(
            value
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]])),
        )
        .collect::<Result<String, _>>()
        .map_err(|_| MalformedCertificate),
        _ => Err(MalformedCertificate),
    }
}

/// The values of every CN (commonName) attribute in the subject of the DER-encoded X.509
/// `certificate`, in order.
///
/// ```
/// let key = rcgen::KeyPair::generate().unwrap();
/// let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
/// params.distinguished_name.push(rcgen::DnType::CommonName, "CP-0001");
/// params.distinguished_name.push(rcgen::DnType::OrganizationName, "Operator");
/// let cert = params.self_signed(&key).unwrap();
/// assert_eq!(ocpp_io::security::subject_common_names(cert.der()).unwrap(), ["CP-0001"]);
/// ```
pub fn subject_common_names(certificate: &[u8]) -> Result<Vec<String>, MalformedCertificate> {
    let mut input = certificate;
    let mut certificate = expect(&mut input, SEQUENCE)?;
    if !input.is_empty() {
        return Err(MalformedCertificate);
    }
    let mut tbs = expect(&mut certificate, SEQUENCE)?;
    if tbs.first() == Some(&VERSION) {
        tlv(&mut tbs)?;
    }
    expect(&mut tbs, INTEGER)?; // serialNumber
    expect(&mut tbs, SEQUENCE)?; // signature
    expect(&mut tbs, SEQUENCE)?; // issuer
    expect(&mut tbs, SEQUENCE)?; // validity
    let mut subject = expect(&mut tbs, SEQUENCE)?;
    let mut names = Vec::new();
    while !subject.is_empty() {
        let mut rdn = expect(&mut subject, SET)?;
        while !rdn.is_empty() {
            let mut attribute = expect(&mut rdn, SEQUENCE)?;
            let kind = expect(&mut attribute, OID)?;
            let (tag, value) = tlv(&mut attribute)?;
            if !attribute.is_empty() {
                return Err(MalformedCertificate);
            }
            if kind == COMMON_NAME {
                names.push(string(tag, value)?);
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(names: &[(rcgen::DnType, rcgen::DnValue)]) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in names {
            params.distinguished_name.push(kind.clone(), value.clone());
        }
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_the_cn_in_every_string_type() {
        use rcgen::{DnType, DnValue};
        let cases = [
            DnValue::Utf8String("CP ü 1".into()),
            DnValue::PrintableString("CP 1".try_into().unwrap()),
            DnValue::Ia5String("CP-1".try_into().unwrap()),
            DnValue::BmpString("CP ü 1".try_into().unwrap()),
        ];
        for value in cases {
            let expected = match &value {
                DnValue::Utf8String(s) => s.clone(),
                DnValue::PrintableString(s) => s.as_str().to_owned(),
                DnValue::Ia5String(s) => s.as_str().to_owned(),
                DnValue::BmpString(_) => "CP ü 1".to_owned(),
                _ => unreachable!(),
            };
            let der = certificate(&[
                (DnType::OrganizationName, DnValue::Utf8String("CPO".into())),
                (DnType::CommonName, value),
            ]);
            assert_eq!(subject_common_names(&der).unwrap(), [expected]);
        }
    }

    #[test]
    fn a_subject_without_cn_has_none() {
        let der = certificate(&[(
            rcgen::DnType::OrganizationName,
            rcgen::DnValue::Utf8String("CPO".into()),
        )]);
        assert!(subject_common_names(&der).unwrap().is_empty());
    }

    #[test]
    fn truncated_or_padded_input_is_refused() {
        let der = certificate(&[(
            rcgen::DnType::CommonName,
            rcgen::DnValue::Utf8String("CP-1".into()),
        )]);
        for len in [0, 1, 2, 10, der.len() / 2, der.len() - 1] {
            assert_eq!(subject_common_names(&der[..len]), Err(MalformedCertificate));
        }
        let mut padded = der.clone();
        padded.push(0);
        assert_eq!(subject_common_names(&padded), Err(MalformedCertificate));
    }
}
