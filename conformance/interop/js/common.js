'use strict';
// What the Node peer scripts share: checks that collect failures, a log of what the peer saw
// on the wire, and the running of our `ocpp` binary as a child process.

const fs = require('fs');
const { spawn } = require('child_process');

class Checks {
    constructor(run) {
        this.run = run;
        this.passed = 0;
        this.failed = [];
        this.deviations = [];
    }

    check(name, ok, saw) {
        if (ok) {
            this.passed += 1;
            console.log(`[${this.run}] ok   ${name}`);
        } else {
            this.failed.push([name, saw]);
            console.log(`[${this.run}] FAIL ${name}: the peer saw ${show(saw)}`);
        }
    }

    // The peer's behaviour differs from the spec; tolerated, and listed.
    deviation(name, peerDoes, specSays) {
        this.deviations.push([name, peerDoes, specSays]);
        console.log(`[${this.run}] peer deviation tolerated: ${name}: peer ${peerDoes}; spec ${specSays}`);
    }

    finish() {
        console.log(`[${this.run}] ${this.passed} checks passed, ${this.failed.length} failed, `
            + `${this.deviations.length} peer deviations tolerated`);
        for (const [name, saw] of this.failed) {
            console.log(`[${this.run}] failed: ${name}: the peer saw ${show(saw)}`);
        }
        return this.failed.length ? 1 : 0;
    }
}

function show(value) {
    if (value instanceof Error) {
        return `${value.constructor.name} ${value.rpcErrorCode ?? ''} ${value.message}`;
    }
    return JSON.stringify(value);
}

// Every OCPP-J frame the peer sent and received, in order, in memory for the checks and
// appended to a JSONL file (the run's record).
class Wire {
    constructor(path) {
        this.frames = [];
        this.waiters = new Set();
        this.fd = fs.openSync(path, 'w');
    }

    record(direction, raw) {
        const text = raw.toString();
        let frame = null;
        try { frame = JSON.parse(text); } catch (_) { /* kept raw */ }
        fs.writeSync(this.fd, JSON.stringify({ dir: direction, raw: text }) + '\n');
        this.frames.push({ dir: direction, raw: text, frame });
        for (const waiter of this.waiters) waiter();
    }

    // Logs one RPC client's traffic.
    attach(client) {
        client.on('message', ({ message, outbound }) => this.record(outbound ? 'out' : 'in', message));
    }

    mark() { return this.frames.length; }

    // The first frame from `since` on that satisfies `predicate`, or null at timeout.
    waitFor(predicate, since = 0, timeoutMs = 15000) {
        return new Promise((resolve) => {
            let done = false;
            const look = () => {
                if (done) return;
                const found = this.frames.slice(since).find(predicate);
                if (found) {
                    done = true;
                    this.waiters.delete(look);
                    clearTimeout(timer);
                    resolve(found);
                }
            };
            const timer = setTimeout(() => {
                done = true;
                this.waiters.delete(look);
                resolve(null);
            }, timeoutMs);
            this.waiters.add(look);
            look();
        });
    }

    // A CALL of `action` from our side: its payload.
    async waitCall(action, since = 0, timeoutMs = 15000, where = () => true) {
        const entry = await this.waitFor((e) => e.dir === 'in' && Array.isArray(e.frame)
            && e.frame.length === 4 && e.frame[0] === 2 && e.frame[2] === action
            && where(e.frame[3]), since, timeoutMs);
        return entry ? entry.frame[3] : null;
    }

    // Our side's CALLRESULT or CALLERROR for `id`: the frame.
    async waitAnswer(id, since = 0, timeoutMs = 10000) {
        const entry = await this.waitFor((e) => e.dir === 'in' && Array.isArray(e.frame)
            && (e.frame[0] === 3 || e.frame[0] === 4) && e.frame[1] === id, since, timeoutMs);
        return entry ? entry.frame : null;
    }

    calls(action, direction = 'in') {
        return this.frames.filter((e) => e.dir === direction && Array.isArray(e.frame)
            && e.frame[0] === 2 && e.frame[2] === action).map((e) => e.frame[3]);
    }
}

// Starts our `ocpp` binary; stdout and stderr go to `logPath`.
let tracesStarted = 0;

// `args` with `--trace` added for `cp` (a file) and `csms` (a directory) when run.sh asks for
// traces (INTEROP_TRACES): every start of ours gets its own name.
function traced(args) {
    const folder = process.env.INTEROP_TRACES;
    if (!folder || !['cp', 'csms'].includes(args[0])) return args;
    tracesStarted += 1;
    const base = require('path').join(folder, `${process.env.INTEROP_SCENARIO || 'js'}-${tracesStarted}`);
    return [...args, '--trace', args[0] === 'cp' ? `${base}.jsonl` : base];
}

function spawnOurs(binary, args, logPath) {
    args = traced(args);
    const log = fs.openSync(logPath, 'w');
    const child = spawn(binary, args, { stdio: ['ignore', log, log] });
    child.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    return child;
}

// SIGTERM, then the exit status (SIGKILL after `timeoutMs`, null).
async function stopOurs(child, timeoutMs = 10000) {
    if (child.exitCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const code = await Promise.race([child.exited, sleep(timeoutMs).then(() => undefined)]);
    if (code === undefined) {
        child.kill('SIGKILL');
        await child.exited;
        return null;
    }
    return code;
}

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

function envPath(name) {
    const value = process.env[name];
    if (!value) {
        console.error(`${name} is not set (run conformance/interop/run.sh)`);
        process.exit(2);
    }
    return value;
}

module.exports = { Checks, Wire, spawnOurs, stopOurs, sleep, envPath, traced };

const PROBES = require('path').join(__dirname, '..', 'probes.json');

// Sends the bad frames of probes.json to the peer's central system as a raw client and
// compares each answer with the spec: a match is a passed check, a difference a tolerated
// deviation. What the peer did is written to `outPath` (JSON).
async function probePeer(checks, url, peer, outPath) {
    const WebSocket = require('ws');
    const { probes } = JSON.parse(fs.readFileSync(PROBES, 'utf8'));
    const ws = new WebSocket(`${url}/PROBE`, ['ocpp1.6']);
    const inbox = [];
    let wake = () => {};
    ws.on('message', (data) => { inbox.push(data.toString()); wake(); });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const next = (ms) => new Promise((resolve) => {
        if (inbox.length) { resolve(inbox.shift()); return; }
        const timer = setTimeout(() => { wake = () => {}; resolve(null); }, ms);
        wake = () => { clearTimeout(timer); wake = () => {}; resolve(inbox.shift()); };
    });
    const results = [];
    for (const probe of probes) {
        ws.send(probe.frame);
        const text = await next(probe.spec === null ? 2000 : 5000);
        const got = answerCode(text);
        results.push({ id: probe.id, answer: text, code: got });
        if (got === probe.spec) {
            checks.check(`${peer} answers ${probe.case} with ${probe.spec ?? 'nothing'}`, true, text);
        } else {
            checks.deviation(`${peer}: ${probe.case}`, shortAnswer(text),
                `${probe.spec ?? 'no answer'} (${probe.why})`);
        }
    }
    ws.close();
    fs.writeFileSync(outPath, JSON.stringify({ peer, results }, null, 1));
}

function parse(text) { try { return JSON.parse(text); } catch (_) { return undefined; } }

// The CallError code of an answer frame, "CALLRESULT", or null for no answer.
function answerCode(text) {
    if (text === null) return null;
    const frame = parse(text);
    if (Array.isArray(frame) && frame[0] === 4) return frame[2];
    if (Array.isArray(frame) && frame[0] === 3) return 'CALLRESULT';
    return `unexpected frame ${text}`;
}

function shortAnswer(text) {
    if (text === null) return 'does not answer';
    const frame = parse(text);
    if (Array.isArray(frame) && frame[0] === 4) return `answers CallError ${frame[2]} (id ${frame[1]})`;
    return `answers ${text.slice(0, 80)}`;
}

module.exports.probePeer = probePeer;
