"""A minimal OCPP 1.6 central system on the Python `ocpp` library (PyPI ocpp==2.1.0) and
`websockets`, written the way the library's documentation shows: one ChargePoint object per
connection, one @on handler per action. It accepts every BootNotification and id tag and
answers Heartbeat, Authorize, StatusNotification and MeterValues; nothing is stored.

Usage: python python_csms.py PORT  (prints "listening on ws://127.0.0.1:PORT" when ready)
"""

import asyncio
import logging
import sys
from datetime import datetime, timezone

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as BaseChargePoint
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus

# The library logs every frame at INFO; a benchmark measures the protocol, not the logging.
logging.basicConfig(level=logging.WARNING)


def now():
    return datetime.now(timezone.utc).isoformat()


class ChargePoint(BaseChargePoint):
    @on(Action.boot_notification)
    def on_boot_notification(self, charge_point_vendor, charge_point_model, **kwargs):
        return call_result.BootNotification(
            current_time=now(), interval=300, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self):
        return call_result.Heartbeat(current_time=now())

    @on(Action.authorize)
    def on_authorize(self, id_tag):
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.status_notification)
    def on_status_notification(self, connector_id, error_code, status, **kwargs):
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, connector_id, meter_value, **kwargs):
        return call_result.MeterValues()


async def on_connect(websocket):
    if websocket.subprotocol is None:
        await websocket.close()
        return
    charge_point_id = websocket.request.path.strip("/").split("/")[-1]
    try:
        await ChargePoint(charge_point_id, websocket).start()
    except websockets.exceptions.ConnectionClosed:
        pass


async def main(port):
    # The listen backlog matches what the kernel allows (somaxconn); the library default
    # of 100 would make a boot storm measure SYN retransmissions.
    async with websockets.serve(
        on_connect, "127.0.0.1", port, subprotocols=["ocpp1.6"], backlog=4096
    ):
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
