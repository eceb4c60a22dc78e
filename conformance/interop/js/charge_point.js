'use strict';
// A charge point built on the `ocpp-rpc` npm package (strictMode: our central system's answers
// are checked against its OCPP 1.6 schemas) against our `ocpp csms`, on loopback: boot,
// heartbeat, status, authorize, start, meter values, stop, then bad input as raw frames,
// asserting what our central system answers and what it recorded.
//
// Run by run.sh: OCPP_BIN is our binary, INTEROP_WORK a scratch directory. Exit status 0 when
// every check passed.

const fs = require('fs');
const readline = require('readline');
const { isDeepStrictEqual } = require('util');
const { RPCClient } = require('ocpp-rpc');
const { Checks, Wire, stopOurs, envPath, traced } = require('./common');

const STATION = 'JS-CP-PEER';

async function startCsms(binary, work) {
    fs.writeFileSync(`${work}/js-cp-id-tags.json`, JSON.stringify([
        { idTag: 'TAG-OK', status: 'Accepted' },
        { idTag: 'TAG-OLD', status: 'Expired' },
    ]));
    const { spawn } = require('child_process');
    const log = fs.openSync(`${work}/js-cp-csms.log`, 'w');
    const child = spawn(binary, traced(['csms', '--listen', '127.0.0.1:0', '--db', `${work}/js-cp-csms.redb`,
        '--id-tags', `${work}/js-cp-id-tags.json`, '--log', 'full', '--http', '127.0.0.1:0']),
    { stdio: ['ignore', 'pipe', log] });
    child.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    const lines = readline.createInterface({ input: child.stdout });
    const stdout = [];
    const [first, , third] = await new Promise((resolve) => {
        lines.on('line', (line) => {
            stdout.push(line);
            if (stdout.length === 3) resolve(stdout.slice());
        });
        child.exited.then(() => resolve(stdout.concat(['', '', ''])));
    });
    if (!first.startsWith('listening on ') || !third.startsWith('http api on ')) {
        throw new Error(`ocpp csms said ${JSON.stringify(stdout)}`);
    }
    return { url: first.slice('listening on '.length), api: third.slice('http api on '.length), child, stdout };
}

async function ask(cp, method, params) {
    try {
        return await cp.call(method, params);
    } catch (error) {
        return error;
    }
}

const now = () => new Date().toISOString();

// The peer's charge point answering our central system's calls, and doing what it promised.
function handleCalls(cp, state) {
    cp.handle('RemoteStartTransaction', ({ params }) => {
        if (state.transactionId !== null) return { status: 'Rejected' };
        setImmediate(async () => {
            const answer = await cp.call('StartTransaction', {
                connectorId: params.connectorId ?? 1, idTag: params.idTag, meterStart: 30000, timestamp: now(),
            });
            state.transactionId = answer.transactionId;
            state.started();
        });
        return { status: 'Accepted' };
    });
    cp.handle('RemoteStopTransaction', ({ params }) => {
        if (params.transactionId !== state.transactionId) return { status: 'Rejected' };
        const id = state.transactionId;
        state.transactionId = null;
        setImmediate(async () => {
            await cp.call('StopTransaction', { transactionId: id, meterStop: 30900, timestamp: now(), reason: 'Remote' });
            state.stopped();
        });
        return { status: 'Accepted' };
    });
    cp.handle('GetConfiguration', ({ params }) => {
        const wanted = params.key && params.key.length ? params.key : Object.keys(state.config);
        const known = wanted.filter((k) => k in state.config);
        const unknown = wanted.filter((k) => !(k in state.config));
        return {
            configurationKey: known.map((key) => ({ key, readonly: false, value: state.config[key] })),
            ...(unknown.length ? { unknownKey: unknown } : {}),
        };
    });
    cp.handle('ChangeConfiguration', ({ params }) => {
        if (!(params.key in state.config)) return { status: 'NotSupported' };
        state.config[params.key] = params.value;
        return { status: 'Accepted' };
    });
    cp.handle('TriggerMessage', ({ params }) => {
        if (params.requestedMessage !== 'StatusNotification') return { status: 'NotImplemented' };
        setImmediate(() => cp.call('StatusNotification', { connectorId: params.connectorId ?? 0, errorCode: 'NoError', status: 'Available' }));
        return { status: 'Accepted' };
    });
    cp.handle('Reset', () => ({ status: 'Rejected' }));
    cp.handle('UnlockConnector', ({ params }) => ({ status: params.connectorId <= 2 ? 'UnlockFailed' : 'NotSupported' }));
    cp.handle('DataTransfer', ({ params }) => (params.vendorId === 'org.ocpp-rs.interop'
        ? { status: 'Accepted', data: JSON.stringify({ echo: params.data ?? null }) } : { status: 'UnknownVendorId' }));
    cp.handle('SendLocalList', ({ params }) => {
        state.listVersion = params.listVersion;
        return { status: 'Accepted' };
    });
    cp.handle('GetLocalListVersion', () => ({ listVersion: state.listVersion }));
    cp.handle('SetChargingProfile', () => ({ status: 'Rejected' }));
    // A handler that breaks its own schema: ocpp-rpc's strictMode must catch it on its side.
    cp.handle('ClearCache', () => ({ status: 'Maybe' }));
}

// Our central system calls the peer's charge point through `ocpp csms --http`.
async function remoteCalls(checks, wire, api, state) {
    const send = async (action, payload) => {
        const response = await fetch(`${api}/stations/${STATION}/calls/${action}`, {
            method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload),
        });
        return [response.status, await response.json()];
    };
    const expect = async (name, action, payload, body) => {
        const [status, answer] = await send(action, payload);
        checks.check(`our csms -> peer: ${name}`, status === 200 && isDeepStrictEqual(answer, body), [status, answer]);
    };
    const within = (promise, ms) => Promise.race([promise.then(() => true), new Promise((r) => setTimeout(() => r(false), ms))]);

    const started = new Promise((resolve) => { state.started = resolve; });
    await expect('RemoteStartTransaction without a connector Accepted', 'RemoteStartTransaction', { idTag: 'TAG-OK' }, { status: 'Accepted' });
    checks.check("the peer's StartTransaction after the remote start gets an id from our csms",
        await within(started, 10000) && Number.isInteger(state.transactionId), state.transactionId);
    await expect('a second RemoteStartTransaction Rejected', 'RemoteStartTransaction', { idTag: 'TAG-OK', connectorId: 2 }, { status: 'Rejected' });
    const stopped = new Promise((resolve) => { state.stopped = resolve; });
    await expect('RemoteStopTransaction Accepted', 'RemoteStopTransaction', { transactionId: state.transactionId }, { status: 'Accepted' });
    checks.check("the peer's StopTransaction reason Remote is answered", await within(stopped, 10000), null);
    await expect('GetConfiguration (all)', 'GetConfiguration', {},
        { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }, { key: 'LocalAuthListEnabled', readonly: false, value: 'true' }] });
    await expect('ChangeConfiguration of an unknown key NotSupported', 'ChangeConfiguration', { key: 'Nope', value: '1' }, { status: 'NotSupported' });
    const mark = wire.mark();
    await expect('TriggerMessage StatusNotification connector 2 Accepted', 'TriggerMessage',
        { requestedMessage: 'StatusNotification', connectorId: 2 }, { status: 'Accepted' });
    const triggered = await wire.waitFor((e) => e.dir === 'out' && Array.isArray(e.frame) && e.frame[2] === 'StatusNotification', mark, 5000);
    checks.check('the triggered StatusNotification reaches our csms', triggered !== null, triggered);
    await expect('TriggerMessage MeterValues NotImplemented', 'TriggerMessage', { requestedMessage: 'MeterValues' }, { status: 'NotImplemented' });
    await expect('Reset Hard Rejected', 'Reset', { type: 'Hard' }, { status: 'Rejected' });
    await expect('UnlockConnector UnlockFailed', 'UnlockConnector', { connectorId: 2 }, { status: 'UnlockFailed' });
    await expect('DataTransfer with the peer\'s data', 'DataTransfer', { vendorId: 'org.ocpp-rs.interop', messageId: 'echo', data: 'hi' },
        { status: 'Accepted', data: '{"echo":"hi"}' });
    await expect('SendLocalList Differential Accepted', 'SendLocalList',
        { listVersion: 12, updateType: 'Differential', localAuthorizationList: [{ idTag: 'TAG-NEW', idTagInfo: { status: 'Accepted', expiryDate: '2031-01-01T00:00:00Z' } }] },
        { status: 'Accepted' });
    await expect('GetLocalListVersion 12', 'GetLocalListVersion', {}, { listVersion: 12 });
    await expect('SetChargingProfile Rejected', 'SetChargingProfile', {
        connectorId: 2, csChargingProfiles: {
            chargingProfileId: 4, transactionId: 77, stackLevel: 2, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Absolute',
            chargingSchedule: { chargingRateUnit: 'W', startSchedule: '2030-06-01T12:00:00Z', minChargingRate: 1.5,
                chargingSchedulePeriod: [{ startPeriod: 0, limit: 7400.5, numberPhases: 3 }, { startPeriod: 1800, limit: 3700 }] },
        },
    }, { status: 'Rejected' });

    // The peer's handler breaks the ClearCache.conf schema; strictMode turns it into a CallError.
    let [status, answer] = await send('ClearCache', {});
    checks.check("our csms -> peer: ClearCache whose answer breaks the peer's schema: 502 with the peer's CallError",
        status === 502 && typeof answer.code === 'string', [status, answer]);
    if (status === 502 && answer.code !== 'InternalError') {
        checks.deviation('ocpp-rpc 2.2.1 (strictMode): a handler answer that breaks its own schema',
            `answers CallError ${answer.code}`, 'InternalError (4.2.3: an internal error occurred and the receiver was not able to process the request)');
    }
    // A call the peer has no handler for.
    [status, answer] = await send('ChangeAvailability', { connectorId: 0, type: 'Inoperative' });
    checks.check("our csms -> peer: ChangeAvailability without a handler: 502 with the peer's CallError code",
        status === 502 && ['NotSupported', 'NotImplemented'].includes(answer.code), [status, answer]);
    if (answer.code === 'NotImplemented') {
        checks.deviation('ocpp-rpc 2.2.1 (strictMode): a charge point without a ChangeAvailability handler',
            'answers CallError NotImplemented', 'NotSupported (4.2.3: recognized but not supported)');
    }
    // Bad input to our API never reaches the peer.
    const before = wire.mark();
    [status, answer] = await send('SetChargingProfile', { connectorId: 1 });
    checks.check('our csms API refuses a call without a required member with 400 and ProtocolError',
        status === 400 && answer.errorCode === 'ProtocolError', [status, answer]);
    [status, answer] = await send('Heartbeat', {});
    checks.check('our csms API refuses a charge point action with 400', status === 400, [status, answer]);
    [status, answer] = await fetch(`${api}/stations/NOBODY/calls/Reset`, { method: 'POST', body: '{"type":"Soft"}' })
        .then(async (r) => [r.status, await r.json()]);
    checks.check('our csms API answers 404 for an unknown station', status === 404, [status, answer]);
    await new Promise((r) => setTimeout(r, 500));
    checks.check('none of them reached the peer', wire.mark() === before, wire.frames.slice(before));
}

async function main() {
    const binary = envPath('OCPP_BIN');
    const work = envPath('INTEROP_WORK');
    const checks = new Checks('ocpp-rpc charge point -> our csms');
    const wire = new Wire(`${work}/js-charge-point.frames.jsonl`);
    const csms = await startCsms(binary, work);
    const cp = new RPCClient({
        endpoint: csms.url, identity: STATION, protocols: ['ocpp1.6'], strictMode: true,
        reconnect: false, callTimeoutMs: 10000,
    });
    const strictFailures = [];
    cp.on('strictValidationFailure', (failure) => {
        // The ClearCache answer breaks the schema on purpose (remoteCalls).
        if (!(failure.method === 'ClearCache' && failure.outbound)) strictFailures.push(failure);
    });
    const state = {
        transactionId: null, listVersion: 0, started: () => {}, stopped: () => {},
        config: { HeartbeatInterval: '300', LocalAuthListEnabled: 'true' },
    };
    handleCalls(cp, state);
    wire.attach(cp);
    let transactionId = null;
    try {
        await cp.connect();
        checks.check('the ocpp1.6 subprotocol is chosen', cp.protocol === 'ocpp1.6', cp.protocol);
        const early = await ask(cp, 'StatusNotification', { connectorId: 0, errorCode: 'NoError', status: 'Available' });
        checks.check('StatusNotification before the BootNotification: CallError SecurityError (errata 3.10)',
            early instanceof Error && early.rpcErrorCode === 'SecurityError', early);
        const boot = await ask(cp, 'BootNotification', {
            chargePointVendor: 'mikuso-ocpp-rpc', chargePointModel: 'interop-js', chargePointSerialNumber: 'JS-1',
        });
        checks.check('BootNotification Accepted with an interval',
            boot && boot.status === 'Accepted' && boot.interval > 0 && !Number.isNaN(Date.parse(boot.currentTime)), boot);
        const beat = await ask(cp, 'Heartbeat', {});
        checks.check('Heartbeat answered with the current time', beat && !Number.isNaN(Date.parse(beat.currentTime)), beat);
        for (const connectorId of [0, 1, 2]) {
            const answer = await ask(cp, 'StatusNotification',
                { connectorId, errorCode: 'NoError', status: 'Available', timestamp: now() });
            checks.check(`StatusNotification connector ${connectorId}`, !(answer instanceof Error), answer);
        }
        for (const [tag, expected] of [['TAG-OK', 'Accepted'], ['TAG-OLD', 'Expired'], ['TAG-NOBODY', 'Invalid']]) {
            const answer = await ask(cp, 'Authorize', { idTag: tag });
            checks.check(`Authorize ${tag}: ${expected}`, answer && answer.idTagInfo && answer.idTagInfo.status === expected, answer);
        }
        await ask(cp, 'StatusNotification', { connectorId: 2, errorCode: 'NoError', status: 'Preparing' });
        const start = await ask(cp, 'StartTransaction', { connectorId: 2, idTag: 'TAG-OK', meterStart: 20000, timestamp: now() });
        transactionId = start && start.transactionId;
        checks.check('StartTransaction Accepted with a transaction id',
            Number.isInteger(transactionId) && start.idTagInfo.status === 'Accepted', start);
        const repeated = await ask(cp, 'StartTransaction', { connectorId: 2, idTag: 'TAG-OK', meterStart: 20000, timestamp: new Date(Date.now() + 1000).toISOString() });
        checks.check('a second StartTransaction (another timestamp) gets another id',
            repeated && Number.isInteger(repeated.transactionId) && repeated.transactionId !== transactionId, repeated);
        const meter = await ask(cp, 'MeterValues', {
            connectorId: 2, transactionId,
            meterValue: [{ timestamp: now(), sampledValue: [
                { value: '20400', measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
                { value: '11.2', measurand: 'Power.Active.Import', unit: 'kW' }] }],
        });
        checks.check('MeterValues of the transaction answered', !(meter instanceof Error), meter);
        for (const id of [transactionId, repeated && repeated.transactionId]) {
            const stop = await ask(cp, 'StopTransaction', {
                transactionId: id, meterStop: 20750, timestamp: now(), reason: 'EVDisconnected',
            });
            checks.check(`StopTransaction ${id} without idTag answered`, stop && !(stop instanceof Error), stop);
        }
        await ask(cp, 'StatusNotification', { connectorId: 2, errorCode: 'NoError', status: 'Available' });
        const transfer = await ask(cp, 'DataTransfer', { vendorId: 'com.example.rpc', messageId: 'hello' });
        checks.check('DataTransfer of an unknown vendor: UnknownVendorId (1.6 section 4.3)',
            transfer && transfer.status === 'UnknownVendorId', transfer);

        // Bad input as raw frames (strictMode refuses to send them); our codes per OCPP-J 1.6
        // section 4.2.3 as the stack reads them.
        const cases = [
            ['StartTransaction without meterStart', 'StartTransaction', { connectorId: 1, idTag: 'TAG-OK', timestamp: now() }, 'ProtocolError'],
            ['Heartbeat with a member the schema lacks', 'Heartbeat', { now: true }, 'FormationViolation'],
            ['StatusNotification with a string connectorId', 'StatusNotification', { connectorId: '1', errorCode: 'NoError', status: 'Available' }, 'TypeConstraintViolation'],
            ['StopTransaction with a malformed timestamp', 'StopTransaction', { transactionId: 1, meterStop: 1, timestamp: 'yesterday' }, 'TypeConstraintViolation'],
            ['StatusNotification of an unknown errorCode', 'StatusNotification', { connectorId: 1, errorCode: 'Melted', status: 'Faulted' }, 'PropertyConstraintViolation'],
            ['an unknown action (Levitate)', 'Levitate', {}, 'NotImplemented'],
            ['RemoteStartTransaction sent to a central system', 'RemoteStartTransaction', { idTag: 'X' }, 'NotSupported'],
        ];
        let n = 0;
        for (const [name, action, payload, code] of cases) {
            n += 1;
            const id = `js-bad-${n}`;
            const mark = wire.mark();
            cp.sendRaw(JSON.stringify([2, id, action, payload]));
            const answer = await wire.waitAnswer(id, mark, 10000);
            checks.check(`${name}: CallError ${code}`, answer !== null && answer[0] === 4 && answer[2] === code, answer);
        }
        let mark = wire.mark();
        cp.sendRaw('[2,"js-frame-1",{}]');
        const frameAnswer = await wire.waitAnswer('js-frame-1', mark, 5000);
        checks.check('a CALL frame without an action: CallError FormationViolation with its id',
            frameAnswer !== null && frameAnswer[0] === 4 && frameAnswer[2] === 'FormationViolation', frameAnswer);
        mark = wire.mark();
        cp.sendRaw('not json at all');
        const stray = await wire.waitFor((e) => e.dir === 'in' && Array.isArray(e.frame) && e.frame[0] === 4, mark, 2000);
        checks.check('text that is not JSON is ignored (OCPP-J 1.6 section 4.1.3)', stray === null, stray);
        const alive = await ask(cp, 'Heartbeat', {});
        checks.check('the connection still answers after the bad input', alive && typeof alive.currentTime === 'string', alive);
        await remoteCalls(checks, wire, csms.api, state);
        checks.check('no answer of our central system failed ocpp-rpc strictMode validation', strictFailures.length === 0,
            strictFailures.map((f) => `${f.method}: ${f.error && f.error.message}`));
        await cp.close({ code: 1000 });
    } finally {
        const code = await stopOurs(csms.child);
        checks.check('ocpp csms exits 0 on SIGTERM', code === 0, `exit status ${code}`);
    }
    const summary = csms.stdout.join('\n');
    checks.check('ocpp csms recorded the station and three closed transactions (one started remotely)',
        summary.includes('stations: 1') && summary.includes('transactions: 3 (0 open)'), summary);
    const log = fs.readFileSync(`${work}/js-cp-csms.log`, 'utf8');
    checks.check(`ocpp csms logged transaction ${transactionId} stopped`, log.includes(`transaction ${transactionId} stopped`), log.slice(-400));
    return checks.finish();
}

main().then((code) => process.exit(code), (error) => {
    console.error(error);
    process.exit(2);
});
