//! The minimal reading of OCPP-J frames the `validate` command needs: which payload a frame
//! carries and whether it is a request or a response.
//!
//! This is deliberately small; it will give way to `ocpp-core`'s RPC frame parser. Frame
//! layout from OCPP-J 1.6 section 4.2 and 2.0.1 part 4 section 4.2:
//! CALL `[2, "<id>", "<Action>", {payload}]`, CALLRESULT `[3, "<id>", {payload}]`,
//! CALLERROR `[4, "<id>", "<code>", "<description>", {details}]`.

use serde_json::Value;

/// What the input to `validate` turned out to be.
#[derive(Debug)]
pub(crate) enum Input<'a> {
    /// Not a frame: the payload itself.
    Payload(&'a Value),
    /// A CALL frame: the request payload of `action`.
    Call { action: &'a str, payload: &'a Value },
    /// A CALLRESULT frame: a response payload of an action the frame does not name.
    CallResult { payload: &'a Value },
}

/// Reads `value` as a frame if it looks like one, i.e. it is an array whose first element is a
/// number (a payload is always an object, so no payload is mistaken for a frame); anything else
/// is taken as a bare payload.
///
/// # Errors
///
/// A message saying what is wrong with a value that looks like a frame but is not a CALL or
/// CALLRESULT of the right shape.
pub(crate) fn read(value: &Value) -> Result<Input<'_>, String> {
    let Some(items) = value.as_array() else {
        return Ok(Input::Payload(value));
    };
    let Some(type_id) = items.first().and_then(Value::as_number) else {
        return Ok(Input::Payload(value));
    };
    let message_id_ok = items.get(1).is_some_and(Value::is_string);
    match type_id.as_u64() {
        Some(2) => {
            if items.len() != 4 {
                return Err(format!(
                    "a CALL frame has 4 elements ([2, \"id\", \"Action\", {{...}}]), this one has {}",
                    items.len()
                ));
            }
            if !message_id_ok {
                return Err("the message id (element 2 of the frame) is not a string".to_owned());
            }
            let Some(action) = items[2].as_str() else {
                return Err("the action (element 3 of the CALL frame) is not a string".to_owned());
            };
            Ok(Input::Call {
                action,
                payload: &items[3],
            })
        }
        Some(3) => {
            if items.len() != 3 {
                return Err(format!(
                    "a CALLRESULT frame has 3 elements ([3, \"id\", {{...}}]), this one has {}",
                    items.len()
                ));
            }
            if !message_id_ok {
                return Err("the message id (element 2 of the frame) is not a string".to_owned());
            }
            Ok(Input::CallResult { payload: &items[2] })
        }
        Some(4) => Err("a CALLERROR frame carries no payload with a schema to validate".to_owned()),
        _ => Err(format!(
            "unknown message type {type_id}: expected 2 (CALL) or 3 (CALLRESULT)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_and_arrays_not_starting_with_a_number_are_payloads() {
        for value in [json!({}), json!([]), json!(["a"]), json!(null), json!("x")] {
            assert!(matches!(read(&value), Ok(Input::Payload(_))), "{value}");
        }
    }

    #[test]
    fn call_and_callresult_frames_yield_their_payload() {
        let call = json!([2, "1", "Heartbeat", {}]);
        assert!(matches!(
            read(&call),
            Ok(Input::Call {
                action: "Heartbeat",
                ..
            })
        ));
        let result = json!([3, "1", {"currentTime": "x"}]);
        assert!(matches!(read(&result), Ok(Input::CallResult { .. })));
    }

    #[test]
    fn malformed_frames_are_refused_with_a_reason() {
        for value in [
            json!([2]),
            json!([2, "1", "Heartbeat"]),
            json!([2, 1, "Heartbeat", {}]),
            json!([2, "1", 7, {}]),
            json!([3, "1"]),
            json!([3, "1", {}, {}]),
            json!([4, "1", "GenericError", "", {}]),
            json!([5, "1", {}]),
            json!([-1, "1", {}]),
            json!([2.5, "1", {}]),
        ] {
            assert!(read(&value).is_err(), "{value}");
        }
    }
}
