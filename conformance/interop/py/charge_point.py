"""A charge point built on the `ocpp` PyPI package (ocpp.v16) against our `ocpp csms`, on
loopback: boot, heartbeat, status, authorize, start, meter values, stop, data transfer, then
bad input, asserting what our central system answers and what it recorded.

Run by run.sh: OCPP_BIN is our binary, INTEROP_WORK a scratch directory. Exit status 0 when
every check passed.
"""

import asyncio
import dataclasses
import json
import os
import sys
from datetime import datetime, timezone

import websockets
from ocpp.exceptions import OCPPError
from ocpp.v16 import ChargePoint, call

sys.path.insert(0, os.path.dirname(__file__))
from common import Checks, RecordingConnection, Wire, env_path, stop_ours  # noqa: E402

STATION = "PY-CP-PEER"
NOW = lambda: datetime.now(timezone.utc).isoformat()  # noqa: E731
ID_TAGS = [
    {"idTag": "TAG-OK", "status": "Accepted"},
    {"idTag": "TAG-BLOCKED", "status": "Blocked"},
]


async def ask(station, request, **kwargs):
    """The response, or the OCPPError of a CallError, or the timeout error."""
    try:
        return await station.call(request, suppress=False, **kwargs)
    except (OCPPError, asyncio.TimeoutError) as error:
        return error


def code_of(answer):
    return getattr(answer, "code", None)


def bad_request(action, **fields):
    """A request dataclass the package would never build: the action is the class name."""
    cls = dataclasses.make_dataclass(action, [(k, type(v)) for k, v in fields.items()])
    return cls(**fields)


async def start_csms(binary, work):
    """Our central system on a free port; its URL and process."""
    with open(f"{work}/py-cp-id-tags.json", "w", encoding="utf-8") as f:
        json.dump(ID_TAGS, f)
    log = open(f"{work}/py-cp-csms.log", "w", encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        binary, "csms", "--listen", "127.0.0.1:0", "--db", f"{work}/py-cp-csms.redb",
        "--id-tags", f"{work}/py-cp-id-tags.json", "--log", "full",
        stdout=asyncio.subprocess.PIPE, stderr=log,
    )
    first = (await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip()
    if not first.startswith("listening on "):
        raise RuntimeError(f"ocpp csms said {first!r}")
    return first.removeprefix("listening on "), process


async def scenario(checks, wire, url):
    async with websockets.connect(f"{url}/{STATION}", subprotocols=["ocpp1.6"]) as connection:
        checks.check("the ocpp1.6 subprotocol is chosen", connection.subprotocol == "ocpp1.6",
                     connection.subprotocol)
        cp = ChargePoint(STATION, RecordingConnection(connection, wire), response_timeout=10)
        serving = asyncio.create_task(cp.start())

        early = await ask(cp, call.Heartbeat())
        checks.check("Heartbeat before the BootNotification: CallError SecurityError (errata 3.10)",
                     code_of(early) == "SecurityError", early)
        boot = await ask(cp, call.BootNotification(
            charge_point_model="interop-py", charge_point_vendor="mobilityhouse-ocpp",
            firmware_version="2.1.0"))
        checks.check("BootNotification Accepted with an interval",
                     getattr(boot, "status", None) == "Accepted" and boot.interval > 0, boot)
        beat = await ask(cp, call.Heartbeat())
        checks.check("Heartbeat answered with the current time",
                     isinstance(getattr(beat, "current_time", None), str), beat)
        for connector in (0, 1):
            answer = await ask(cp, call.StatusNotification(
                connector_id=connector, error_code="NoError", status="Available", timestamp=NOW()))
            checks.check(f"StatusNotification connector {connector}", not isinstance(answer, Exception), answer)

        for tag, expected in (("TAG-OK", "Accepted"), ("TAG-BLOCKED", "Blocked"), ("TAG-NOBODY", "Invalid")):
            answer = await ask(cp, call.Authorize(id_tag=tag))
            status = getattr(answer, "id_tag_info", {}).get("status") if not isinstance(answer, Exception) else answer
            checks.check(f"Authorize {tag}: {expected}", status == expected, answer)

        await ask(cp, call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing", timestamp=NOW()))
        start = await ask(cp, call.StartTransaction(connector_id=1, id_tag="TAG-OK", meter_start=1000, timestamp=NOW()))
        transaction_id = getattr(start, "transaction_id", None)
        checks.check("StartTransaction Accepted with a transaction id",
                     isinstance(transaction_id, int)
                     and getattr(start, "id_tag_info", {}).get("status") == "Accepted", start)
        await ask(cp, call.StatusNotification(connector_id=1, error_code="NoError", status="Charging", timestamp=NOW()))
        sample = [{"timestamp": NOW(), "sampledValue": [
            {"value": "1250", "measurand": "Energy.Active.Import.Register", "unit": "Wh",
             "context": "Sample.Periodic"}]}]
        meter = await ask(cp, call.MeterValues(connector_id=1, transaction_id=transaction_id, meter_value=sample))
        checks.check("MeterValues of the transaction answered", not isinstance(meter, Exception), meter)
        stop = await ask(cp, call.StopTransaction(
            meter_stop=1500, timestamp=NOW(), transaction_id=transaction_id, reason="Local", id_tag="TAG-OK",
            transaction_data=sample))
        checks.check("StopTransaction answered with the id tag's status",
                     getattr(stop, "id_tag_info", {}).get("status") == "Accepted", stop)
        again = await ask(cp, call.StopTransaction(
            meter_stop=1500, timestamp=NOW(), transaction_id=transaction_id, reason="Local"))
        checks.check("a repeated StopTransaction is answered too (applied once)",
                     not isinstance(again, Exception), again)
        await ask(cp, call.StatusNotification(connector_id=1, error_code="NoError", status="Available", timestamp=NOW()))
        transfer = await ask(cp, call.DataTransfer(vendor_id="com.example.py", message_id="hello", data="x"))
        checks.check("DataTransfer of an unknown vendor: UnknownVendorId (1.6 section 4.3)",
                     getattr(transfer, "status", None) == "UnknownVendorId", transfer)

        # Bad input: our central system answers with the codes of OCPP-J 1.6 section 4.2.3 as
        # the stack reads them (README, "CallError codes for invalid payloads").
        cases = [
            ("BootNotification without chargePointVendor",
             call.BootNotification(charge_point_model="m", charge_point_vendor=None), "ProtocolError"),
            ("StatusNotification with a member the schema lacks",
             bad_request("StatusNotification", connectorId=1, errorCode="NoError", status="Available", colour="red"),
             "FormationViolation"),
            ("StatusNotification of an unknown status",
             call.StatusNotification(connector_id=1, error_code="NoError", status="Sleeping"),
             "PropertyConstraintViolation"),
            ("Authorize with a numeric idTag", bad_request("Authorize", idTag=42), "TypeConstraintViolation"),
            ("Authorize with a 21-character idTag", call.Authorize(id_tag="T" * 21), "PropertyConstraintViolation"),
            ("an unknown action (Teleport)", bad_request("Teleport", x=1), "NotImplemented"),
            ("Reset sent to a central system", call.Reset(type="Soft"), "NotSupported"),
        ]
        for name, request, code in cases:
            answer = await ask(cp, request, skip_schema_validation=True)
            checks.check(f"{name}: CallError {code}", code_of(answer) == code, answer)
        mark = wire.mark()
        await cp._connection.send('[2,"py-frame-1","Heartbeat"]')
        answer = await wire.wait_answer("py-frame-1", mark, 5)
        checks.check("a CALL frame of three elements: CallError FormationViolation with its id",
                     answer is not None and answer[0] == 4 and answer[2] == "FormationViolation", answer)
        mark = wire.mark()
        await cp._connection.send("{not json")
        stray = await wire.wait_for(lambda e: e["dir"] == "in" and e["frame"] and e["frame"][0] == 4, mark, 2)
        checks.check("text that is not JSON is ignored (OCPP-J 1.6 section 4.1.3)", stray is None, stray)
        beat = await ask(cp, call.Heartbeat())
        checks.check("the connection still answers after the bad input",
                     isinstance(getattr(beat, "current_time", None), str), beat)
        serving.cancel()
    return transaction_id


async def main():
    binary = env_path("OCPP_BIN")
    work = env_path("INTEROP_WORK")
    checks = Checks("python charge point -> our csms")
    wire = Wire(f"{work}/py-charge-point.frames.jsonl")
    url, csms = await start_csms(binary, work)
    try:
        transaction_id = await scenario(checks, wire, url)
    finally:
        code = await stop_ours(csms)
    summary = (await csms.stdout.read()).decode()
    checks.check("ocpp csms exits 0 on SIGTERM", code == 0, f"exit status {code}")
    checks.check("ocpp csms recorded the station and one closed transaction",
                 "stations: 1" in summary and "transactions: 1 (0 open)" in summary
                 and "repeated StopTransaction: 1" in summary, summary)
    with open(f"{work}/py-cp-csms.log", encoding="utf-8") as f:
        log = f.read()
    checks.check(f"ocpp csms logged transaction {transaction_id} stopped",
                 f"transaction {transaction_id} stopped" in log, log[-400:])
    return checks.finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
