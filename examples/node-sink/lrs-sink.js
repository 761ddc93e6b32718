#!/usr/bin/env node
'use strict';
// lrs-sink: an lrsbridge sink plugin written for Node.js. It speaks the
// go-plugin handshake and serves lrsbridge.sink.v1.SinkService (see
// sdk/proto/sink/v1/sink.proto) over gRPC with mutual TLS, delivering
// statements to an xAPI LRS. Nothing but the handshake line goes to stdout;
// the log goes to stderr as JSON lines the host re-levels into its own log.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');
const { selfSigned } = require('./lib/cert.js');
const { Sink, SinkError, ConfigError, parseConfig, redact, RETRYABLE, PERMANENT, UNAUTHENTICATED, FORBIDDEN } = require('./lib/lrs.js');

const COOKIE_KEY = 'LRSBRIDGE_SINK_PLUGIN';
const COOKIE_VALUE = 'd2b3b8f1-lrsbridge-sink';
const APP_PROTOCOL = '1';
const SINK_PROTO = process.env.LRSBRIDGE_SINK_PROTO || path.join(__dirname, '..', '..', 'sdk', 'proto', 'sink', 'v1', 'sink.proto');

function log(level, message, attrs = {}) {
  const now = new Date().toISOString().replace('Z', '000Z');
  process.stderr.write(JSON.stringify({ '@level': level, '@message': message, '@timestamp': now, ...attrs }) + '\n');
}

if (process.env[COOKIE_KEY] !== COOKIE_VALUE) {
  process.stderr.write('This program is an lrsbridge sink plugin: the lrsbridge host starts it. ' +
    'Name it in the host configuration (plugins.dir) instead of running it directly.\n');
  process.exit(1);
}
const offered = (process.env.PLUGIN_PROTOCOL_VERSIONS || APP_PROTOCOL).split(',').map((s) => s.trim());
if (!offered.includes(APP_PROTOCOL)) {
  process.stderr.write(`The host speaks sink protocol versions ${offered.join(', ')}; this plugin speaks ${APP_PROTOCOL}.\n`);
  process.exit(1);
}

const loaderOptions = { keepCase: true, longs: Number, enums: Number, defaults: true, oneofs: true };
const sinkPkg = grpc.loadPackageDefinition(protoLoader.loadSync(SINK_PROTO, loaderOptions)).lrsbridge.sink.v1;
const pluginPkg = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(__dirname, 'proto', 'goplugin.proto'), loaderOptions)).plugin;
const healthPkg = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(__dirname, 'proto', 'health.proto'), loaderOptions)).grpc.health.v1;

// The error detail travels as a google.rpc.Status in the trailer
// grpc-status-details-bin, as gRPC's rich error model specifies.
const root = new protobuf.Root().loadSync([SINK_PROTO, path.join(__dirname, 'proto', 'status.proto')], { keepCase: true });
const ErrorDetail = root.lookupType('lrsbridge.sink.v1.ErrorDetail');
const Status = root.lookupType('google.rpc.Status');

const CONDITION_UNKNOWN_INSTANCE = 1;

function statusError(code, message, detail) {
  const metadata = new grpc.Metadata();
  const value = ErrorDetail.encode(ErrorDetail.create(detail)).finish();
  const status = Status.encode(Status.create({
    code, message, details: [{ type_url: 'type.googleapis.com/lrsbridge.sink.v1.ErrorDetail', value }],
  })).finish();
  metadata.set('grpc-status-details-bin', Buffer.from(status));
  return { code, details: message, metadata };
}

function sinkError(err) {
  if (err instanceof ConfigError) {
    return statusError(grpc.status.INVALID_ARGUMENT, err.message, { error_class: PERMANENT, field_errors: err.fields });
  }
  if (err instanceof SinkError) {
    switch (err.klass) {
      case UNAUTHENTICATED: return statusError(grpc.status.UNAUTHENTICATED, err.message, { error_class: UNAUTHENTICATED });
      case FORBIDDEN: return statusError(grpc.status.PERMISSION_DENIED, err.message, { error_class: FORBIDDEN });
      case PERMANENT: return statusError(grpc.status.INVALID_ARGUMENT, err.message, { error_class: PERMANENT });
      default:
        if (err.retryAfterMs !== undefined) {
          return statusError(grpc.status.RESOURCE_EXHAUSTED, err.message,
            { error_class: RETRYABLE, retry_after_nanos: Math.round(err.retryAfterMs * 1e6) });
        }
        return statusError(grpc.status.UNAVAILABLE, err.message, { error_class: RETRYABLE });
    }
  }
  if (err && err.name === 'AbortError') return { code: grpc.status.CANCELLED, details: 'the call was cancelled' };
  log('error', 'unexpected error', { error: String(err && err.message) });
  return statusError(grpc.status.UNAVAILABLE, 'the sink failed unexpectedly', { error_class: RETRYABLE });
}

const instances = new Map();

function unknownInstance(handle) {
  return statusError(grpc.status.NOT_FOUND, `unknown sink instance ${JSON.stringify(handle)}: configure it again`,
    { error_class: RETRYABLE, condition: CONDITION_UNKNOWN_INSTANCE });
}

// abortOnCancel returns a signal aborted when the host cancels the call or
// its deadline passes.
function abortOnCancel(call) {
  const ac = new AbortController();
  call.on('cancelled', () => ac.abort());
  return ac.signal;
}

const sinkService = {
  Configure(call, callback) {
    const req = call.request;
    try {
      const egress = { allow_cidrs: req.egress ? req.egress.allow_cidrs : [], allow_http: !!(req.egress && req.egress.allow_http) };
      const cfg = parseConfig(req.config_json, egress);
      instances.set(req.instance, new Sink(cfg, egress));
      log('debug', 'sink configured', { instance: req.instance, org: req.org });
      callback(null, { capabilities: { connection_tester: true, version_reporter: true }, xapi_version: cfg.version });
    } catch (err) {
      callback(sinkError(err));
    }
  },
  Deliver(call, callback) {
    const sink = instances.get(call.request.instance);
    if (!sink) return callback(unknownInstance(call.request.instance));
    sink.deliver(call.request.statements, abortOnCancel(call)).then(
      (verdicts) => callback(null, { verdicts }),
      (err) => callback(sinkError(err)),
    );
  },
  TestConnection(call, callback) {
    const sink = instances.get(call.request.instance);
    if (!sink) return callback(unknownInstance(call.request.instance));
    sink.testConnection().then(
      (steps) => callback(null, { steps: steps.map((s) => ({ ...s, message: redact(s.message, sink.cfg) })) }),
      (err) => callback(sinkError(err)),
    );
  },
  Close(call, callback) {
    instances.delete(call.request.instance);
    callback(null, {});
  },
};

const server = new grpc.Server();
const openStreams = new Set();
let socketDir;

function exit(code) {
  for (const s of openStreams) s.end();
  server.tryShutdown(() => {
    if (socketDir) fs.rmSync(socketDir, { recursive: true, force: true });
    process.exit(code);
  });
  setTimeout(() => process.exit(code), 2000).unref();
}

server.addService(sinkPkg.SinkService.service, sinkService);
server.addService(healthPkg.Health.service, {
  Check(call, callback) {
    callback(null, { status: 1 }); // SERVING
  },
});
server.addService(pluginPkg.GRPCController.service, {
  Shutdown(call, callback) {
    callback(null, {});
    log('debug', 'shutdown requested by the host');
    setImmediate(() => exit(0));
  },
});
// The host opens these streams at connect time; this plugin keeps them open
// (it has nothing to send) and ends them at exit.
const idleStream = (call) => {
  openStreams.add(call);
  call.on('cancelled', () => openStreams.delete(call));
  call.on('error', () => openStreams.delete(call));
};
server.addService(pluginPkg.GRPCStdio.service, { StreamStdio: idleStream });
server.addService(pluginPkg.GRPCBroker.service, { StartStream: idleStream });

let creds = grpc.ServerCredentials.createInsecure();
let certField = '';
if (process.env.PLUGIN_CLIENT_CERT) {
  const mine = selfSigned();
  creds = grpc.ServerCredentials.createSsl(Buffer.from(process.env.PLUGIN_CLIENT_CERT),
    [{ private_key: Buffer.from(mine.keyPEM), cert_chain: Buffer.from(mine.certPEM) }], true);
  certField = mine.der.toString('base64').replace(/=+$/, '');
}

socketDir = fs.mkdtempSync(path.join(process.env.PLUGIN_UNIX_SOCKET_DIR || os.tmpdir(), 'lrsbridge-node-sink-'));
const socket = path.join(socketDir, 'plugin.sock');
server.bindAsync('unix:' + socket, creds, (err) => {
  if (err) {
    log('error', 'cannot listen', { error: err.message });
    process.exit(1);
  }
  process.stdout.write(`1|${APP_PROTOCOL}|unix|${socket}|grpc|${certField}\n`);
});

// Exit with the host: when the parent process is gone, this process is
// re-parented, and nobody will ever call Shutdown.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    log('warn', 'the host process is gone; exiting');
    exit(0);
  }
}, 500).unref();
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => exit(0));
