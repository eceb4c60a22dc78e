"""A central system built on the `ocpp` PyPI package (ocpp.v16) that drives our `ocpp cp`
through a full OCPP 1.6 scenario on loopback and asserts what our charge point does.

Run by run.sh: OCPP_BIN is our binary, INTEROP_WORK a scratch directory. Phase 1 is our
charge point's own session (boot, authorize, start, stop); phase 2 keeps it connected and
sends it every Central System request of the scenario, then bad input, then a Reset, after
which it must boot again. Exit status 0 when every check passed.
"""

import asyncio
import dataclasses
import itertools
import os
import sys
from datetime import datetime, timezone

import websockets
from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

sys.path.insert(0, os.path.dirname(__file__))
from common import (  # noqa: E402
    Checks, RecordingConnection, Wire, env_path, probe_peer, spawn_ours, stop_ours)

STATION = "PY-CS-PEER"
NOW = lambda: datetime.now(timezone.utc).isoformat()  # noqa: E731


class OurStation(ChargePoint):
    """The peer's view of our charge point: answers its calls, counts its boots."""

    def __init__(self, cp_id, connection, system):
        super().__init__(cp_id, connection, response_timeout=15)
        self.system = system

    @on(Action.boot_notification)
    def on_boot(self, **_):
        self.system.boots += 1
        self.system.booted.set()
        return call_result.BootNotification(
            current_time=NOW(), interval=self.system.heartbeat_interval, status="Accepted"
        )

    @on(Action.heartbeat)
    def on_heartbeat(self):
        return call_result.Heartbeat(current_time=NOW())

    @on(Action.status_notification)
    def on_status(self, **_):
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag):
        status = "Blocked" if id_tag == "TAG-BLOCKED" else "Accepted"
        return call_result.Authorize(id_tag_info={"status": status})

    @on(Action.start_transaction)
    def on_start(self, **_):
        transaction_id = next(self.system.transaction_ids)
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info={"status": "Accepted"}
        )

    @on(Action.stop_transaction)
    def on_stop(self, **_):
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})

    @on(Action.meter_values)
    def on_meter_values(self, **_):
        return call_result.MeterValues()


class System:
    def __init__(self, wire):
        self.wire = wire
        self.station = None
        self.boots = 0
        self.booted = asyncio.Event()
        self.heartbeat_interval = 300
        self.transaction_ids = itertools.count(100)
        self.disconnected = asyncio.Event()

    async def serve(self, connection):
        identity = connection.request.path.rstrip("/").rsplit("/", 1)[-1]
        if identity == "PROBE":
            # The raw client of probe_peer: answered by the same handlers, on its own wire.
            probe = OurStation("PROBE", connection, System(self.wire))
            try:
                await probe.start()
            except websockets.exceptions.ConnectionClosed:
                pass
            return
        if identity != STATION:
            await connection.close(1008, "unknown station")
            return
        self.disconnected.clear()
        self.station = OurStation(STATION, RecordingConnection(connection, self.wire), self)
        try:
            await self.station.start()
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            self.disconnected.set()


async def ask(checks, station, request, **kwargs):
    """Sends a request; the response, or the OCPPError of a CallError, or None on timeout."""
    try:
        return await station.call(request, suppress=False, **kwargs)
    except OCPPError as error:
        return error
    except asyncio.TimeoutError:
        checks.check(f"{type(request).__name__} answered", False, "no answer in 15 s")
        return None


def status_of(answer):
    """The status of a response, or "CallError <code>"."""
    if isinstance(answer, OCPPError):
        return f"CallError {answer.code}"
    return getattr(answer, "status", None)


async def expect_status(checks, name, station, request, allowed):
    answer = await ask(checks, station, request)
    checks.check(name, status_of(answer) in allowed, answer)
    return answer


async def expect_call_error(checks, name, station, request, code):
    answer = await ask(checks, station, request, skip_schema_validation=True)
    got = getattr(answer, "code", answer)
    checks.check(f"{name}: CallError {code}", got == code, got)


def bad_request(action, **fields):
    """A request dataclass the package would never build: the action is the class name."""
    cls = dataclasses.make_dataclass(action, [(k, type(v)) for k, v in fields.items()])
    return cls(**fields)


async def phase_session(checks, system, binary, work, url):
    """Our charge point's own session: boot, authorize, start, meter readings, stop."""
    mark = system.wire.mark()
    process = await spawn_ours(
        binary, "cp", "--url", url, "--id", STATION, "--db", f"{work}/py-cs-cp.redb",
        "--sessions", "1", "--readings", "2", "--interval-ms", "200", "--id-tag", "TAG-1",
        log_path=f"{work}/py-cs-cp-session.log",
    )
    try:
        code = await asyncio.wait_for(process.wait(), 60)
    except asyncio.TimeoutError:
        code = await stop_ours(process)
    checks.check("ocpp cp --sessions 1 exits 0", code == 0, f"exit status {code}")
    wire = system.wire
    boot = await wire.wait_call("BootNotification", mark, 1)
    checks.check("BootNotification", boot is not None and boot.get("chargePointVendor") == "ocpp-rs", boot)
    auth = await wire.wait_call("Authorize", mark, 1)
    checks.check("Authorize with --id-tag", auth == {"idTag": "TAG-1"}, auth)
    start = await wire.wait_call("StartTransaction", mark, 1)
    checks.check(
        "StartTransaction on connector 1 with TAG-1",
        start is not None and start["connectorId"] == 1 and start["idTag"] == "TAG-1",
        start,
    )
    stop = await wire.wait_call("StopTransaction", mark, 1)
    checks.check(
        "StopTransaction of the transaction id given, 500 Wh later",
        start is not None
        and stop is not None
        and stop["transactionId"] == 100
        and stop["meterStop"] - start["meterStart"] == 500,
        stop,
    )
    statuses = [s["status"] for s in wire.calls("StatusNotification")[-4:]]
    checks.check(
        "StatusNotification Preparing, Charging, Finishing, Available",
        statuses == ["Preparing", "Charging", "Finishing", "Available"],
        statuses,
    )


async def phase_remote(checks, system, binary, work, url):
    """Our charge point connected (--sessions 0); the peer sends every request."""
    wire = system.wire
    system.booted.clear()
    system.heartbeat_interval = 1
    mark = wire.mark()
    process = await spawn_ours(
        binary, "cp", "--url", url, "--id", STATION, "--db", f"{work}/py-cs-cp.redb",
        "--sessions", "0", log_path=f"{work}/py-cs-cp-remote.log",
    )
    try:
        await asyncio.wait_for(system.booted.wait(), 20)
    except asyncio.TimeoutError:
        checks.check("BootNotification of the staying charge point", False, "no boot in 20 s")
        await stop_ours(process)
        return
    st = system.station
    beat = await wire.wait_call("Heartbeat", mark, 6)
    checks.check("Heartbeat at the interval of the BootNotification answer (1 s)", beat == {}, beat)

    await expect_status(checks, "ChangeConfiguration HeartbeatInterval=300 Accepted", st,
                        call.ChangeConfiguration(key="HeartbeatInterval", value="300"), {"Accepted"})
    config = await ask(checks, st, call.GetConfiguration())
    keys = {k["key"]: k.get("value") for k in getattr(config, "configuration_key", None) or []}
    checks.check("GetConfiguration (all) has HeartbeatInterval=300 and NumberOfConnectors=1",
                 keys.get("HeartbeatInterval") == "300" and keys.get("NumberOfConnectors") == "1",
                 config)
    some = await ask(checks, st, call.GetConfiguration(key=["MeterValueSampleInterval", "NoSuchKey"]))
    checks.check("GetConfiguration of a known and an unknown key",
                 getattr(some, "unknown_key", None) == ["NoSuchKey"]
                 and [k["key"] for k in some.configuration_key] == ["MeterValueSampleInterval"],
                 some)
    await expect_status(checks, "ChangeConfiguration of an unknown key NotSupported", st,
                        call.ChangeConfiguration(key="NoSuchKey", value="1"), {"NotSupported"})
    await expect_status(checks, "ChangeConfiguration of read-only NumberOfConnectors Rejected", st,
                        call.ChangeConfiguration(key="NumberOfConnectors", value="4"), {"Rejected"})
    await expect_status(checks, "ChangeConfiguration MeterValueSampleInterval=1 Accepted", st,
                        call.ChangeConfiguration(key="MeterValueSampleInterval", value="1"), {"Accepted"})
    authorize_remote = await expect_status(
        checks, "ChangeConfiguration AuthorizeRemoteTxRequests=true Accepted or Rejected", st,
        call.ChangeConfiguration(key="AuthorizeRemoteTxRequests", value="true"),
        {"Accepted", "Rejected"})

    mark = wire.mark()
    await expect_status(checks, "TriggerMessage Heartbeat Accepted", st,
                        call.TriggerMessage(requested_message="Heartbeat"), {"Accepted"})
    beat = await wire.wait_call("Heartbeat", mark, 5)
    checks.check("the triggered Heartbeat", beat == {}, beat)
    mark = wire.mark()
    await expect_status(checks, "TriggerMessage StatusNotification connector 1 Accepted", st,
                        call.TriggerMessage(requested_message="StatusNotification", connector_id=1),
                        {"Accepted"})
    status = await wire.wait_call("StatusNotification", mark, 5, where=lambda p: p["connectorId"] == 1)
    checks.check("the triggered StatusNotification of connector 1", status is not None, status)

    # Remote start, meter values, remote stop.
    mark = wire.mark()
    await expect_status(checks, "RemoteStartTransaction connector 1 Accepted", st,
                        call.RemoteStartTransaction(id_tag="TAG-R", connector_id=1), {"Accepted"})
    if status_of(authorize_remote) == "Accepted":
        auth = await wire.wait_call("Authorize", mark, 5)
        checks.check("Authorize before the remote start (AuthorizeRemoteTxRequests)",
                     auth == {"idTag": "TAG-R"}, auth)
    start = await wire.wait_call("StartTransaction", mark, 10)
    checks.check("StartTransaction of the remote start",
                 start is not None and start["idTag"] == "TAG-R" and start["connectorId"] == 1, start)
    transaction_id = 101
    charging = await wire.wait_call("StatusNotification", mark, 5,
                                    where=lambda p: p["status"] == "Charging")
    checks.check("StatusNotification Charging", charging is not None, charging)
    meter_start = start["meterStart"] if start else 0

    def energy_flowing(payload):
        # A sample of the transaction above its start: the remote session charges 250 Wh/s.
        return payload.get("transactionId") == transaction_id and any(
            float(v["value"]) > meter_start
            for m in payload["meterValue"] for v in m["sampledValue"]
            if v.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register")

    sampled = await wire.wait_call("MeterValues", mark, 8, where=energy_flowing)
    checks.check("sampled MeterValues of the transaction with energy flowing (MeterValueSampleInterval=1)",
                 sampled is not None and sampled["connectorId"] == 1, sampled)
    mark = wire.mark()
    await expect_status(checks, "TriggerMessage MeterValues connector 1 Accepted", st,
                        call.TriggerMessage(requested_message="MeterValues", connector_id=1),
                        {"Accepted"})
    triggered = await wire.wait_call("MeterValues", mark, 5)
    checks.check("the triggered MeterValues", triggered is not None and triggered["connectorId"] == 1,
                 triggered)
    await expect_status(checks, "RemoteStopTransaction of an unknown transaction Rejected", st,
                        call.RemoteStopTransaction(transaction_id=999), {"Rejected"})
    mark = wire.mark()
    await expect_status(checks, "RemoteStopTransaction Accepted", st,
                        call.RemoteStopTransaction(transaction_id=transaction_id), {"Accepted"})
    stop = await wire.wait_call("StopTransaction", mark, 10)
    checks.check("StopTransaction reason Remote, energy counted",
                 stop is not None and stop["transactionId"] == transaction_id
                 and stop.get("reason") == "Remote" and stop["meterStop"] > meter_start,
                 stop)

    await expect_status(checks, "UnlockConnector 1 Unlocked", st,
                        call.UnlockConnector(connector_id=1), {"Unlocked"})
    await expect_status(checks, "UnlockConnector 9 (no such connector) NotSupported", st,
                        call.UnlockConnector(connector_id=9), {"NotSupported"})
    await expect_status(checks, "DataTransfer of an unknown vendor UnknownVendorId", st,
                        call.DataTransfer(vendor_id="org.example.interop", message_id="ping"),
                        {"UnknownVendorId"})
    local = await expect_status(
        checks, "SendLocalList Full version 7 Accepted", st,
        call.SendLocalList(list_version=7, update_type="Full",
                           local_authorization_list=[{"idTag": "TAG-L", "idTagInfo": {"status": "Accepted"}}]),
        {"Accepted"})
    version = await ask(checks, st, call.GetLocalListVersion())
    checks.check("GetLocalListVersion 7 after the list",
                 status_of(local) == "Accepted" and getattr(version, "list_version", None) == 7, version)
    await expect_status(checks, "ClearCache Accepted", st, call.ClearCache(), {"Accepted"})
    # Smart Charging (1.6 sections 3.13, 5.16, 5.7, 5.5).
    await expect_status(
        checks, "SetChargingProfile TxDefaultProfile of 16 A Accepted", st,
        call.SetChargingProfile(connector_id=1, cs_charging_profiles={
            "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute", "chargingSchedule": {
                "chargingRateUnit": "A", "startSchedule": "2020-01-01T00:00:00Z",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}}),
        {"Accepted"})
    composite = await ask(checks, st, call.GetCompositeSchedule(connector_id=1, duration=3600,
                                                                charging_rate_unit="A"))
    periods = (getattr(composite, "charging_schedule", None) or {}).get("charging_schedule_period", [])
    checks.check("GetCompositeSchedule of connector 1 Accepted with the 16 A limit",
                 status_of(composite) == "Accepted" and periods and float(periods[0]["limit"]) == 16.0,
                 composite)
    await expect_status(checks, "SetChargingProfile TxProfile without a transaction Rejected (5.16.3)", st,
                        call.SetChargingProfile(connector_id=1, cs_charging_profiles={
                            "chargingProfileId": 9, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
                            "chargingProfileKind": "Relative", "chargingSchedule": {
                                "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}]}}),
                        {"Rejected"})
    await expect_status(checks, "ClearChargingProfile of profile 1 Accepted", st,
                        call.ClearChargingProfile(id=1), {"Accepted"})
    await expect_status(checks, "ClearChargingProfile of an unknown profile Unknown", st,
                        call.ClearChargingProfile(id=4711), {"Unknown"})
    mark = wire.mark()
    await expect_status(checks, "ChangeAvailability connector 1 Inoperative Accepted", st,
                        call.ChangeAvailability(connector_id=1, type="Inoperative"), {"Accepted"})
    unavailable = await wire.wait_call("StatusNotification", mark, 5,
                                       where=lambda p: p["status"] == "Unavailable")
    checks.check("StatusNotification Unavailable", unavailable is not None, unavailable)
    await expect_status(checks, "ChangeAvailability connector 1 Operative Accepted", st,
                        call.ChangeAvailability(connector_id=1, type="Operative"), {"Accepted"})

    # Bad input: our charge point answers with the codes of OCPP-J 1.6 section 4.2.3 as the
    # stack reads them (README, "CallError codes for invalid payloads").
    await expect_call_error(checks, "ChangeConfiguration without value", st,
                            call.ChangeConfiguration(key="HeartbeatInterval", value=None), "ProtocolError")
    await expect_call_error(checks, "ChangeConfiguration with a member the schema lacks", st,
                            bad_request("ChangeConfiguration", key="HeartbeatInterval", value="300",
                                        extra="x"), "FormationViolation")
    await expect_call_error(checks, "ChangeConfiguration with a numeric key", st,
                            bad_request("ChangeConfiguration", key=7, value="300"),
                            "TypeConstraintViolation")
    await expect_call_error(checks, "ChangeConfiguration with a 51-character key", st,
                            call.ChangeConfiguration(key="K" * 51, value="1"),
                            "PropertyConstraintViolation")
    await expect_call_error(checks, "an unknown action (FooBar)", st,
                            bad_request("FooBar", x=1), "NotImplemented")
    await expect_call_error(checks, "BootNotification sent to a charge point", st,
                            call.BootNotification(charge_point_model="m", charge_point_vendor="v"),
                            "NotSupported")
    mark = wire.mark()
    await st._connection.send('[2,"bad-frame-1","Heartbeat"]')
    answer = await wire.wait_answer("bad-frame-1", mark, 5)
    checks.check("a CALL frame of three elements: CallError FormationViolation with its id",
                 answer is not None and answer[0] == 4 and answer[2] == "FormationViolation", answer)
    mark = wire.mark()
    await st._connection.send("this is not json")
    stray = await wire.wait_for(lambda e: e["dir"] == "in" and e["frame"] and e["frame"][0] == 4,
                                mark, 2)
    checks.check("text that is not JSON is ignored (OCPP-J 1.6 section 4.1.3)", stray is None, stray)
    await expect_status(checks, "the connection still answers after the bad input", st,
                        call.TriggerMessage(requested_message="Heartbeat"), {"Accepted"})

    # Reset: the running transaction is stopped as SoftReset, then the station boots again.
    mark = wire.mark()
    await expect_status(checks, "RemoteStartTransaction before the reset Accepted", st,
                        call.RemoteStartTransaction(id_tag="TAG-R", connector_id=1), {"Accepted"})
    start = await wire.wait_call("StartTransaction", mark, 10)
    checks.check("StartTransaction before the reset", start is not None, start)
    system.booted.clear()
    mark = wire.mark()
    await expect_status(checks, "Reset Soft Accepted", st, call.Reset(type="Soft"), {"Accepted"})
    stop = await wire.wait_call("StopTransaction", mark, 10)
    checks.check("StopTransaction reason SoftReset",
                 stop is not None and stop.get("reason") == "SoftReset" and stop["transactionId"] == 102,
                 stop)
    try:
        await asyncio.wait_for(system.booted.wait(), 20)
        rebooted = True
    except asyncio.TimeoutError:
        rebooted = False
    checks.check("BootNotification again after the reset", rebooted, f"{system.boots} boots")
    reboot = next((i for i in range(len(wire.frames) - 1, mark - 1, -1)
                   if (wire.frames[i]["frame"] or [None])[0] == 2
                   and wire.frames[i]["frame"][2] == "BootNotification"), None)
    after = None if reboot is None else await wire.wait_call(
        "StatusNotification", reboot, 5, where=lambda p: p["connectorId"] == 1)
    checks.check("after the reboot connector 1 is Available, its transaction ended by the reset",
                 after is not None and after["status"] == "Available", after)
    await asyncio.sleep(0.5)
    code = await stop_ours(process)
    checks.check("ocpp cp --sessions 0 exits 0 on SIGTERM", code == 0, f"exit status {code}")


async def main():
    binary = env_path("OCPP_BIN")
    work = env_path("INTEROP_WORK")
    checks = Checks("python central system <- our cp")
    wire = Wire(f"{work}/py-central-system.frames.jsonl")
    system = System(wire)
    async with websockets.serve(system.serve, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}"
        await phase_session(checks, system, binary, work, url)
        await phase_remote(checks, system, binary, work, url)
        await probe_peer(checks, url, "ocpp (PyPI) 2.1.0", f"{work}/py-central-system.probes.json")
    return checks.finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
