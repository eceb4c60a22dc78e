'use strict';
// A central system built on the `ocpp-rpc` npm package (strictMode: every frame in both
// directions is checked against its OCPP 1.6 schemas) that drives our `ocpp cp` through a full
// OCPP 1.6 scenario on loopback and asserts what our charge point does.
//
// Run by run.sh: OCPP_BIN is our binary, INTEROP_WORK a scratch directory. Phase 1 is our
// charge point's own session; phase 2 keeps it connected and sends it every Central System
// request of the scenario, then bad input (as raw frames: strictMode refuses to send them),
// then a Reset, after which it must boot again. Exit status 0 when every check passed.

const { RPCServer, createRPCError } = require('ocpp-rpc');
const { isDeepStrictEqual } = require('util');
const { Checks, Wire, spawnOurs, stopOurs, sleep, envPath, probePeer } = require('./common');

const STATION = 'JS-CS-PEER';

async function main() {
    const binary = envPath('OCPP_BIN');
    const work = envPath('INTEROP_WORK');
    const checks = new Checks('ocpp-rpc central system <- our cp');
    const wire = new Wire(`${work}/js-central-system.frames.jsonl`);
    const system = {
        station: null,
        boots: 0,
        heartbeatInterval: 300,
        nextTransactionId: 100,
        starts: 0,
        bootWaiters: [],
        strictFailures: [],
    };
    const booted = () => new Promise((resolve) => system.bootWaiters.push(resolve));

    const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true, callTimeoutMs: 15000 });
    server.on('client', (client) => {
        // PROBE is the raw client of probePeer: the same handlers, outside the scenario.
        const probe = client.identity === 'PROBE';
        if (client.identity !== STATION && !probe) {
            client.close({ code: 1008, reason: 'unknown station' });
            return;
        }
        if (!probe) {
            wire.attach(client);
            client.on('strictValidationFailure', (failure) => system.strictFailures.push(failure));
            system.station = client;
        }
        client.handle('BootNotification', () => {
            system.boots += 1;
            setImmediate(() => system.bootWaiters.splice(0).forEach((resolve) => resolve()));
            return { status: 'Accepted', currentTime: new Date().toISOString(), interval: system.heartbeatInterval };
        });
        client.handle('Heartbeat', () => ({ currentTime: new Date().toISOString() }));
        client.handle('StatusNotification', () => ({}));
        client.handle('Authorize', ({ params }) => ({
            idTagInfo: { status: params.idTag === 'TAG-BLOCKED' ? 'Blocked' : 'Accepted' },
        }));
        client.handle('StartTransaction', () => {
            // The first one fails in the central system (1.6 section 3.7.1): the station must
            // send it again after TransactionMessageRetryInterval.
            system.starts += 1;
            if (system.starts === 1) throw createRPCError('InternalError', 'interop: the first StartTransaction fails');
            return { transactionId: system.nextTransactionId++, idTagInfo: { status: 'Accepted' } };
        });
        client.handle('StopTransaction', () => ({ idTagInfo: { status: 'Accepted' } }));
        client.handle('MeterValues', () => ({}));
    });
    const http = await server.listen(0, '127.0.0.1');
    const url = `ws://127.0.0.1:${http.address().port}`;

    await phaseSession(checks, wire, binary, work, url);
    await phaseRemote(checks, wire, system, booted, binary, work, url);
    await probePeer(checks, url, 'ocpp-rpc 2.2.1 (strictMode)', `${work}/js-central-system.probes.json`);
    checks.check('no frame of our charge point failed ocpp-rpc strictMode validation',
        system.strictFailures.length === 0,
        system.strictFailures.map((f) => `${f.method}: ${f.error && f.error.message}`));
    await server.close({ force: true });
    return checks.finish();
}

// The answer to a call: the response payload, or the RPCError of a CallError, or the
// timeout error.
async function ask(station, method, params) {
    try {
        return await station.call(method, params);
    } catch (error) {
        return error;
    }
}

function statusOf(answer) {
    if (answer instanceof Error) return answer.rpcErrorCode ? `CallError ${answer.rpcErrorCode}` : answer.message;
    return answer && answer.status;
}

async function expectStatus(checks, name, station, method, params, allowed) {
    const answer = await ask(station, method, params);
    checks.check(name, allowed.includes(statusOf(answer)), answer);
    return answer;
}

let rawId = 0;
// Sends a raw CALL (past strictMode) and returns our answer frame, or null.
async function raw(wire, station, action, payload) {
    rawId += 1;
    const id = `js-raw-${rawId}`;
    const mark = wire.mark();
    station.sendRaw(JSON.stringify([2, id, action, payload]));
    return wire.waitAnswer(id, mark, 10000);
}

async function expectCallError(checks, name, wire, station, action, payload, code) {
    const answer = await raw(wire, station, action, payload);
    checks.check(`${name}: CallError ${code}`, answer !== null && answer[0] === 4 && answer[2] === code, answer);
}

async function phaseSession(checks, wire, binary, work, url) {
    const mark = wire.mark();
    const child = spawnOurs(binary, ['cp', '--url', url, '--id', STATION, '--db', `${work}/js-cs-cp.redb`,
        '--sessions', '1', '--readings', '2', '--interval-ms', '200', '--id-tag', 'TAG-1'],
    `${work}/js-cs-cp-session.log`);
    const code = await Promise.race([child.exited, sleep(60000).then(() => stopOurs(child))]);
    checks.check('ocpp cp --sessions 1 exits 0', code === 0, `exit status ${code}`);
    const boot = await wire.waitCall('BootNotification', mark, 1000);
    checks.check('BootNotification', boot !== null && boot.chargePointVendor === 'ocpp-rs', boot);
    const auth = await wire.waitCall('Authorize', mark, 1000);
    checks.check('Authorize with --id-tag', auth !== null && auth.idTag === 'TAG-1', auth);
    const start = await wire.waitCall('StartTransaction', mark, 1000);
    checks.check('StartTransaction on connector 1 with TAG-1',
        start !== null && start.connectorId === 1 && start.idTag === 'TAG-1', start);
    const starts = wire.calls('StartTransaction');
    const errors = wire.frames.filter((e) => e.dir === 'out' && Array.isArray(e.frame) && e.frame[0] === 4);
    checks.check('after the CallError InternalError our station sends the same StartTransaction again (1.6 section 3.7.1)',
        starts.length === 2 && isDeepStrictEqual(starts[0], starts[1]) && errors.length === 1
        && errors[0].frame[2] === 'InternalError', { starts, errors: errors.map((e) => e.frame) });
    const stop = await wire.waitCall('StopTransaction', mark, 1000);
    checks.check('StopTransaction of the transaction id given, 500 Wh later',
        start !== null && stop !== null && stop.transactionId === 100 && stop.meterStop - start.meterStart === 500, stop);
    const statuses = wire.calls('StatusNotification').slice(-4).map((s) => s.status);
    checks.check('StatusNotification Preparing, Charging, Finishing, Available',
        JSON.stringify(statuses) === JSON.stringify(['Preparing', 'Charging', 'Finishing', 'Available']), statuses);
}

async function phaseRemote(checks, wire, system, booted, binary, work, url) {
    system.heartbeatInterval = 1;
    let mark = wire.mark();
    let boot = booted();
    const child = spawnOurs(binary, ['cp', '--url', url, '--id', STATION, '--db', `${work}/js-cs-cp.redb`,
        '--sessions', '0'], `${work}/js-cs-cp-remote.log`);
    if (!await Promise.race([boot.then(() => true), sleep(20000).then(() => false)])) {
        checks.check('BootNotification of the staying charge point', false, 'no boot in 20 s');
        await stopOurs(child);
        return;
    }
    const st = system.station;
    const beat = await wire.waitCall('Heartbeat', mark, 6000);
    checks.check('Heartbeat at the interval of the BootNotification answer (1 s)', beat !== null, beat);

    await expectStatus(checks, 'ChangeConfiguration HeartbeatInterval=300 Accepted', st,
        'ChangeConfiguration', { key: 'HeartbeatInterval', value: '300' }, ['Accepted']);
    const config = await ask(st, 'GetConfiguration', {});
    const keys = Object.fromEntries(((config && config.configurationKey) || []).map((k) => [k.key, k.value]));
    checks.check('GetConfiguration (all) has HeartbeatInterval=300 and NumberOfConnectors=1',
        keys.HeartbeatInterval === '300' && keys.NumberOfConnectors === '1', config);
    const some = await ask(st, 'GetConfiguration', { key: ['MeterValueSampleInterval', 'NoSuchKey'] });
    checks.check('GetConfiguration of a known and an unknown key',
        some && JSON.stringify(some.unknownKey) === '["NoSuchKey"]'
        && some.configurationKey.map((k) => k.key).join() === 'MeterValueSampleInterval', some);
    await expectStatus(checks, 'ChangeConfiguration of an unknown key NotSupported', st,
        'ChangeConfiguration', { key: 'NoSuchKey', value: '1' }, ['NotSupported']);
    await expectStatus(checks, 'ChangeConfiguration of read-only NumberOfConnectors Rejected', st,
        'ChangeConfiguration', { key: 'NumberOfConnectors', value: '4' }, ['Rejected']);
    await expectStatus(checks, 'ChangeConfiguration MeterValueSampleInterval=1 Accepted', st,
        'ChangeConfiguration', { key: 'MeterValueSampleInterval', value: '1' }, ['Accepted']);
    // Left false here (the Python run sets it): the remote start goes without an Authorize.
    await expectStatus(checks, 'ChangeConfiguration AuthorizeRemoteTxRequests=false Accepted or Rejected', st,
        'ChangeConfiguration', { key: 'AuthorizeRemoteTxRequests', value: 'false' }, ['Accepted', 'Rejected']);

    mark = wire.mark();
    await expectStatus(checks, 'TriggerMessage Heartbeat Accepted', st,
        'TriggerMessage', { requestedMessage: 'Heartbeat' }, ['Accepted']);
    checks.check('the triggered Heartbeat', await wire.waitCall('Heartbeat', mark, 5000) !== null, null);
    // Errata 3.35: an accepted station is recommended to refuse this until it reboots.
    await expectStatus(checks, 'TriggerMessage BootNotification while accepted Rejected (errata 3.35)', st,
        'TriggerMessage', { requestedMessage: 'BootNotification' }, ['Rejected']);

    mark = wire.mark();
    await expectStatus(checks, 'RemoteStartTransaction without a connector Accepted', st,
        'RemoteStartTransaction', { idTag: 'TAG-R' }, ['Accepted']);
    const start = await wire.waitCall('StartTransaction', mark, 10000);
    checks.check('StartTransaction of the remote start on the free connector 1',
        start !== null && start.idTag === 'TAG-R' && start.connectorId === 1, start);
    checks.check('no Authorize before it (AuthorizeRemoteTxRequests false)',
        wire.frames.slice(mark).every((e) => !(Array.isArray(e.frame) && e.frame[2] === 'Authorize')), null);
    const transactionId = 101;
    const sampled = await wire.waitCall('MeterValues', mark, 6000, (p) => p.transactionId === transactionId);
    checks.check('sampled MeterValues of the transaction', sampled !== null, sampled);
    await expectStatus(checks, 'RemoteStartTransaction on the busy connector 1 Rejected', st,
        'RemoteStartTransaction', { idTag: 'TAG-R', connectorId: 1 }, ['Rejected']);
    mark = wire.mark();
    await expectStatus(checks, 'UnlockConnector 1 during the transaction Unlocked', st,
        'UnlockConnector', { connectorId: 1 }, ['Unlocked']);
    const stop = await wire.waitCall('StopTransaction', mark, 10000);
    checks.check('StopTransaction reason UnlockCommand',
        stop !== null && stop.transactionId === transactionId && stop.reason === 'UnlockCommand', stop);
    await expectStatus(checks, 'RemoteStopTransaction of the ended transaction Rejected', st,
        'RemoteStopTransaction', { transactionId }, ['Rejected']);

    await expectStatus(checks, 'DataTransfer of an unknown vendor UnknownVendorId', st,
        'DataTransfer', { vendorId: 'com.example.rpc', data: 'x' }, ['UnknownVendorId']);
    await expectStatus(checks, 'SendLocalList Full version 3 Accepted', st, 'SendLocalList', {
        listVersion: 3, updateType: 'Full',
        localAuthorizationList: [{ idTag: 'TAG-L', idTagInfo: { status: 'Accepted' } }],
    }, ['Accepted']);
    await expectStatus(checks, 'SendLocalList Differential version 4 Accepted', st, 'SendLocalList', {
        listVersion: 4, updateType: 'Differential',
        localAuthorizationList: [{ idTag: 'TAG-M', idTagInfo: { status: 'Blocked' } }],
    }, ['Accepted']);
    let version = await ask(st, 'GetLocalListVersion', {});
    checks.check('GetLocalListVersion 4', version && version.listVersion === 4, version);
    await expectStatus(checks, 'SendLocalList Differential version 5 removing both tags Accepted', st,
        'SendLocalList', {
            listVersion: 5, updateType: 'Differential', localAuthorizationList: [{ idTag: 'TAG-L' }, { idTag: 'TAG-M' }],
        }, ['Accepted']);
    // 1.6 section 5.10: version 0 stands for an empty list.
    version = await ask(st, 'GetLocalListVersion', {});
    checks.check('GetLocalListVersion 0 for the emptied list (1.6 section 5.10)', version && version.listVersion === 0, version);
    // Smart Charging (1.6 sections 3.13, 5.16).
    await expectStatus(checks, 'SetChargingProfile daily TxDefaultProfile on connector 0 Accepted', st,
        'SetChargingProfile', {
            connectorId: 0,
            csChargingProfiles: {
                chargingProfileId: 2, stackLevel: 1, chargingProfilePurpose: 'TxDefaultProfile',
                chargingProfileKind: 'Recurring', recurrencyKind: 'Daily',
                chargingSchedule: { chargingRateUnit: 'W', duration: 86400, startSchedule: '2030-01-01T00:00:00Z',
                    chargingSchedulePeriod: [{ startPeriod: 0, limit: 11000 }] },
            },
        }, ['Accepted']);
    await expectStatus(checks, 'ClearChargingProfile of the TxDefaultProfile purpose Accepted', st,
        'ClearChargingProfile', { chargingProfilePurpose: 'TxDefaultProfile' }, ['Accepted']);

    // Bad input, as raw frames; our codes per OCPP-J 1.6 section 4.2.3 as the stack reads them.
    await expectCallError(checks, 'RemoteStartTransaction without idTag', wire, st,
        'RemoteStartTransaction', { connectorId: 1 }, 'ProtocolError');
    await expectCallError(checks, 'Reset with a member the schema lacks', wire, st,
        'Reset', { type: 'Soft', when: 'now' }, 'FormationViolation');
    await expectCallError(checks, 'Reset of an unknown type', wire, st,
        'Reset', { type: 'Warm' }, 'PropertyConstraintViolation');
    await expectCallError(checks, 'UnlockConnector with a string connector', wire, st,
        'UnlockConnector', { connectorId: '1' }, 'TypeConstraintViolation');
    await expectCallError(checks, 'SendLocalList of a list that is not an array', wire, st,
        'SendLocalList', { listVersion: 1, updateType: 'Full', localAuthorizationList: {} }, 'TypeConstraintViolation');
    await expectCallError(checks, 'an unknown action (Frobnicate)', wire, st, 'Frobnicate', {}, 'NotImplemented');
    await expectCallError(checks, 'StartTransaction sent to a charge point', wire, st, 'StartTransaction',
        { connectorId: 1, idTag: 'X', meterStart: 0, timestamp: '2030-01-01T00:00:00Z' }, 'NotSupported');
    mark = wire.mark();
    st.sendRaw('[2,"js-frame-1","Heartbeat",{},"extra"]');
    const frameAnswer = await wire.waitAnswer('js-frame-1', mark, 5000);
    checks.check('a CALL frame of five elements: CallError FormationViolation with its id',
        frameAnswer !== null && frameAnswer[0] === 4 && frameAnswer[2] === 'FormationViolation', frameAnswer);
    mark = wire.mark();
    st.sendRaw('[2,');
    st.sendRaw('[7,"js-frame-2",{}]');
    const stray = await wire.waitFor((e) => e.dir === 'in' && Array.isArray(e.frame) && e.frame[0] === 4, mark, 2000);
    checks.check('truncated JSON and an unknown message type are ignored (OCPP-J 1.6 section 4.1.3)', stray === null, stray);
    await expectStatus(checks, 'the connection still answers after the bad input', st,
        'TriggerMessage', { requestedMessage: 'Heartbeat' }, ['Accepted']);

    // Hard reset without a transaction: the station boots again.
    boot = booted();
    await expectStatus(checks, 'Reset Hard Accepted', st, 'Reset', { type: 'Hard' }, ['Accepted']);
    const rebooted = await Promise.race([boot.then(() => true), sleep(20000).then(() => false)]);
    checks.check('BootNotification again after the reset', rebooted, `${system.boots} boots`);
    await sleep(500);
    const code = await stopOurs(child);
    checks.check('ocpp cp --sessions 0 exits 0 on SIGTERM', code === 0, `exit status ${code}`);
}

main().then((code) => process.exit(code), (error) => {
    console.error(error);
    process.exit(2);
});
