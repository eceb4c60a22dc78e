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
const { RPCClient } = require('ocpp-rpc');
const { Checks, Wire, stopOurs, envPath } = require('./common');

const STATION = 'JS-CP-PEER';

async function startCsms(binary, work) {
    fs.writeFileSync(`${work}/js-cp-id-tags.json`, JSON.stringify([
        { idTag: 'TAG-OK', status: 'Accepted' },
        { idTag: 'TAG-OLD', status: 'Expired' },
    ]));
    const { spawn } = require('child_process');
    const log = fs.openSync(`${work}/js-cp-csms.log`, 'w');
    const child = spawn(binary, ['csms', '--listen', '127.0.0.1:0', '--db', `${work}/js-cp-csms.redb`,
        '--id-tags', `${work}/js-cp-id-tags.json`, '--log', 'full'], { stdio: ['ignore', 'pipe', log] });
    child.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    const lines = readline.createInterface({ input: child.stdout });
    const stdout = [];
    const first = await new Promise((resolve) => {
        lines.on('line', (line) => {
            stdout.push(line);
            if (stdout.length === 1) resolve(line);
        });
        child.exited.then(() => resolve(''));
    });
    if (!first.startsWith('listening on ')) throw new Error(`ocpp csms said ${JSON.stringify(first)}`);
    return { url: first.slice('listening on '.length), child, stdout };
}

async function ask(cp, method, params) {
    try {
        return await cp.call(method, params);
    } catch (error) {
        return error;
    }
}

const now = () => new Date().toISOString();

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
    cp.on('strictValidationFailure', (failure) => strictFailures.push(failure));
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
        checks.check('no answer of our central system failed ocpp-rpc strictMode validation', strictFailures.length === 0,
            strictFailures.map((f) => `${f.method}: ${f.error && f.error.message}`));
        await cp.close({ code: 1000 });
    } finally {
        const code = await stopOurs(csms.child);
        checks.check('ocpp csms exits 0 on SIGTERM', code === 0, `exit status ${code}`);
    }
    const summary = csms.stdout.join('\n');
    checks.check('ocpp csms recorded the station and two closed transactions',
        summary.includes('stations: 1') && summary.includes('transactions: 2 (0 open)'), summary);
    const log = fs.readFileSync(`${work}/js-cp-csms.log`, 'utf8');
    checks.check(`ocpp csms logged transaction ${transactionId} stopped`, log.includes(`transaction ${transactionId} stopped`), log.slice(-400));
    return checks.finish();
}

main().then((code) => process.exit(code), (error) => {
    console.error(error);
    process.exit(2);
});
