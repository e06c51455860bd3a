// A local service written against trustd with a gRPC client none of us wrote
// (@grpc/grpc-js + @grpc/proto-loader): ValidatePeer and Seal over the Unix socket.
//   node trustd_interop_test.js SOCKET PROTO_DIR CHAIN_DER_HEX_LEAF CHAIN_DER_HEX_ICA
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [socket, protoDir, leafHex, icaHex] = process.argv.slice(2);
const definition = protoLoader.loadSync(path.join(protoDir, 'proto/trust/v1/trust.proto'), {
  includeDirs: [protoDir],
  keepCase: true,
  enums: String,
  longs: String,
  defaults: true,
});
const trust = grpc.loadPackageDefinition(definition).trust.v1;
const client = new trust.TrustService(`unix:${socket}`, grpc.credentials.createInsecure());
const deadline = () => new Date(Date.now() + 5000);

let passed = 0;
let failed = 0;
function check(name, condition, detail) {
  if (condition) {
    passed++;
  } else {
    failed++;
    console.log(`FAILED: ${name}${detail ? ': ' + detail : ''}`);
  }
}

function call(method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: deadline() }, (err, response) =>
      err ? reject(err) : resolve(response));
  });
}

(async () => {
  const chain = [Buffer.from(leafHex, 'hex'), Buffer.from(icaHex, 'hex')];
  const ok = await call('ValidatePeer', {
    purpose: 'PLATFORM', chain_der: chain, peer_name: 'platform.local', endpoint: 'node',
  });
  check('allowed chain', ok.allowed === true && ok.reason === 'OK', JSON.stringify(ok));
  check('leaf fingerprint', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(ok.leaf_sha256), ok.leaf_sha256);
  check('chain summary', ok.chain.length === 3, JSON.stringify(ok.chain));

  const refused = await call('ValidatePeer', {
    purpose: 'PLATFORM', chain_der: chain, peer_name: 'evil.test', endpoint: 'node',
  });
  check('refused chain', refused.allowed === false && refused.reason === 'NAME_MISMATCH',
        JSON.stringify(refused));
  check('openssl code', refused.openssl_error === 62, String(refused.openssl_error));
  check('hint', refused.hint.includes('subjectAltName DNS:evil.test'), refused.hint);

  const sealed = await call('Seal', { plaintext: 'sealed from node' });
  check('sealed value', /^AES:[A-Za-z0-9+/=]+$/.test(sealed.sealed), sealed.sealed);

  console.log(`${passed} passed, ${failed} failed`);
  client.close();
  process.exit(failed === 0 ? 0 : 1);
})().catch((err) => {
  console.log(`FAILED: ${err.message}`);
  process.exit(1);
});
