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
import urllib.error
import urllib.request
from datetime import datetime, timezone

import websockets
from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

sys.path.insert(0, os.path.dirname(__file__))
from common import Checks, RecordingConnection, Wire, env_path, stop_ours, traced  # noqa: E402

STATION = "PY-CP-PEER"
NOW = lambda: datetime.now(timezone.utc).isoformat()  # noqa: E731
ID_TAGS = [
    {"idTag": "TAG-OK", "status": "Accepted"},
    {"idTag": "TAG-BLOCKED", "status": "Blocked"},
]


class PeerStation(ChargePoint):
    """The package's charge point, answering the calls our central system sends it through
    `ocpp csms --http`, and doing what it promised (a remote start starts a transaction)."""

    def __init__(self, cp_id, connection):
        super().__init__(cp_id, connection, response_timeout=10)
        self.config = {"HeartbeatInterval": "300", "MeterValueSampleInterval": "0"}
        self.list_version = 0
        self.transaction_id = None
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, **_):
        return call_result.RemoteStartTransaction(
            status="Rejected" if self.transaction_id is not None else "Accepted")

    @after(Action.remote_start_transaction)
    async def start_after_remote_start(self, id_tag, connector_id=1, **_):
        answer = await self.call(call.StartTransaction(
            connector_id=connector_id, id_tag=id_tag, meter_start=5000, timestamp=NOW()))
        self.transaction_id = answer.transaction_id
        self.started.set()

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id):
        ok = transaction_id == self.transaction_id
        return call_result.RemoteStopTransaction(status="Accepted" if ok else "Rejected")

    @after(Action.remote_stop_transaction)
    async def stop_after_remote_stop(self, transaction_id):
        if transaction_id == self.transaction_id:
            self.transaction_id = None
            await self.call(call.StopTransaction(
                meter_stop=5750, timestamp=NOW(), transaction_id=transaction_id, reason="Remote"))
            self.stopped.set()

    @on(Action.get_configuration)
    def on_get_configuration(self, key=None):
        wanted = key if key else list(self.config)
        return call_result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": False, "value": self.config[k]}
                               for k in wanted if k in self.config],
            unknown_key=[k for k in wanted if k not in self.config] or None)

    @on(Action.change_configuration)
    def on_change_configuration(self, key, value):
        if key not in self.config:
            return call_result.ChangeConfiguration(status="NotSupported")
        self.config[key] = value
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.trigger_message)
    def on_trigger(self, requested_message, connector_id=None):
        ok = requested_message in ("Heartbeat", "StatusNotification")
        return call_result.TriggerMessage(status="Accepted" if ok else "NotImplemented")

    @after(Action.trigger_message)
    async def send_triggered(self, requested_message, connector_id=None):
        if requested_message == "Heartbeat":
            await self.call(call.Heartbeat())

    @on(Action.reset)
    def on_reset(self, type):  # noqa: A002 (the payload's name)
        return call_result.Reset(status="Accepted")

    @on(Action.unlock_connector)
    def on_unlock(self, connector_id):
        return call_result.UnlockConnector(status="Unlocked" if connector_id == 1 else "NotSupported")

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id, message_id=None, data=None):
        if vendor_id != "org.ocpp-rs.interop":
            return call_result.DataTransfer(status="UnknownVendorId")
        return call_result.DataTransfer(status="Accepted", data=(data or "")[::-1])

    @on(Action.send_local_list)
    def on_send_local_list(self, list_version, update_type, local_authorization_list=None):
        self.list_version = list_version
        return call_result.SendLocalList(status="Accepted")

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self):
        return call_result.GetLocalListVersion(list_version=self.list_version)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id, cs_charging_profiles):
        return call_result.SetChargingProfile(status="Accepted")


def post(url, payload):
    """POST `payload` as JSON; the status and the JSON body."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


async def remote_calls(checks, wire, station, api):
    """Our central system calls the peer's charge point through `ocpp csms --http`."""
    base = f"{api}/stations/{STATION}/calls"

    async def send(action, payload):
        return await asyncio.to_thread(post, f"{base}/{action}", payload)

    async def expect(name, action, payload, body):
        status, answer = await send(action, payload)
        checks.check(f"our csms -> peer: {name}", status == 200 and answer == body, (status, answer))

    await expect("RemoteStartTransaction Accepted", "RemoteStartTransaction",
                 {"idTag": "TAG-OK", "connectorId": 1}, {"status": "Accepted"})
    try:
        await asyncio.wait_for(station.started.wait(), 10)
    except asyncio.TimeoutError:
        pass
    checks.check("the peer's StartTransaction after the remote start gets an id from our csms",
                 isinstance(station.transaction_id, int), station.transaction_id)
    await expect("RemoteStopTransaction of another id Rejected", "RemoteStopTransaction",
                 {"transactionId": 999999}, {"status": "Rejected"})
    await expect("RemoteStopTransaction Accepted", "RemoteStopTransaction",
                 {"transactionId": station.transaction_id}, {"status": "Accepted"})
    try:
        await asyncio.wait_for(station.stopped.wait(), 10)
        stopped = True
    except asyncio.TimeoutError:
        stopped = False
    checks.check("the peer's StopTransaction reason Remote is answered", stopped, None)
    await expect("ChangeConfiguration Accepted", "ChangeConfiguration",
                 {"key": "HeartbeatInterval", "value": "60"}, {"status": "Accepted"})
    await expect("GetConfiguration returns the peer's keys", "GetConfiguration",
                 {"key": ["HeartbeatInterval", "Nope"]},
                 {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
                  "unknownKey": ["Nope"]})
    mark = wire.mark()
    await expect("TriggerMessage Heartbeat Accepted", "TriggerMessage",
                 {"requestedMessage": "Heartbeat"}, {"status": "Accepted"})
    beat = await wire.wait_call("Heartbeat", mark, 5, direction="out")
    checks.check("the triggered Heartbeat reaches our csms", beat == {}, beat)
    await expect("UnlockConnector Unlocked", "UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"})
    await expect("DataTransfer with the peer's data", "DataTransfer",
                 {"vendorId": "org.ocpp-rs.interop", "data": "abc"}, {"status": "Accepted", "data": "cba"})
    await expect("SendLocalList Accepted", "SendLocalList",
                 {"listVersion": 9, "updateType": "Full",
                  "localAuthorizationList": [{"idTag": "TAG-OK", "idTagInfo": {"status": "Accepted"}}]},
                 {"status": "Accepted"})
    await expect("GetLocalListVersion 9", "GetLocalListVersion", {}, {"listVersion": 9})
    await expect("SetChargingProfile Accepted", "SetChargingProfile", {
        "connectorId": 1, "csChargingProfiles": {
            "chargingProfileId": 3, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Relative", "chargingSchedule": {
                "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}]}}},
        {"status": "Accepted"})
    await expect("Reset Soft Accepted", "Reset", {"type": "Soft"}, {"status": "Accepted"})

    # A call the peer has no handler for: our side reports the peer's CallError as it came.
    status, answer = await send("ClearCache", {})
    checks.check("our csms -> peer: ClearCache without a handler: 502 with the peer's CallError code",
                 status == 502 and answer.get("code") in ("NotSupported", "NotImplemented"), (status, answer))
    if answer.get("code") == "NotImplemented":
        checks.deviation("ocpp (PyPI) 2.1.0: a charge point without a ClearCache handler",
                         "answers CallError NotImplemented",
                         "NotSupported (4.2.3: recognized but not supported)")
    # Bad input to our API never reaches the peer.
    mark = wire.mark()
    status, answer = await send("ChangeConfiguration", {"key": 5, "value": "1"})
    checks.check("our csms API refuses a schema-violating call with 400 and its 1.6 code",
                 status == 400 and answer.get("errorCode") == "TypeConstraintViolation", (status, answer))
    status, answer = await send("Teleport", {})
    checks.check("our csms API refuses an unknown action with 404", status == 404, (status, answer))
    await asyncio.sleep(0.5)
    checks.check("neither reached the peer", wire.mark() == mark, wire.frames[mark:])


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
        binary,
        *traced(("csms", "--listen", "127.0.0.1:0", "--db", f"{work}/py-cp-csms.redb",
                 "--id-tags", f"{work}/py-cp-id-tags.json", "--log", "full",
                 "--http", "127.0.0.1:0")),
        stdout=asyncio.subprocess.PIPE, stderr=log,
    )
    lines = [(await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip() for _ in range(3)]
    if not lines[0].startswith("listening on ") or not lines[2].startswith("http api on "):
        raise RuntimeError(f"ocpp csms said {lines!r}")
    return lines[0].removeprefix("listening on "), lines[2].removeprefix("http api on "), process


async def scenario(checks, wire, url, api):
    async with websockets.connect(f"{url}/{STATION}", subprotocols=["ocpp1.6"]) as connection:
        checks.check("the ocpp1.6 subprotocol is chosen", connection.subprotocol == "ocpp1.6",
                     connection.subprotocol)
        cp = PeerStation(STATION, RecordingConnection(connection, wire))
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
        await remote_calls(checks, wire, cp, api)
        serving.cancel()
    return transaction_id


async def main():
    binary = env_path("OCPP_BIN")
    work = env_path("INTEROP_WORK")
    checks = Checks("python charge point -> our csms")
    wire = Wire(f"{work}/py-charge-point.frames.jsonl")
    url, api, csms = await start_csms(binary, work)
    try:
        transaction_id = await scenario(checks, wire, url, api)
    finally:
        code = await stop_ours(csms)
    summary = (await csms.stdout.read()).decode()
    checks.check("ocpp csms exits 0 on SIGTERM", code == 0, f"exit status {code}")
    checks.check("ocpp csms recorded the station and two closed transactions (one started remotely)",
                 "stations: 1" in summary and "transactions: 2 (0 open)" in summary
                 and "repeated StopTransaction: 1" in summary, summary)
    with open(f"{work}/py-cp-csms.log", encoding="utf-8") as f:
        log = f.read()
    checks.check(f"ocpp csms logged transaction {transaction_id} stopped",
                 f"transaction {transaction_id} stopped" in log, log[-400:])
    return checks.finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
