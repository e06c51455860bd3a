// Stands in front of pebble (which has no renewalInfo) as an ACME CA that offers ACME
// Renewal Information (RFC 9773): the directory is pebble's with a `renewalInfo` URL added,
// and GET renewalInfo/<CertID> answers a window already past for the first certificate asked
// about and one a day ahead for every other. Every CertID asked is appended to LOG.
//   node ari_proxy.js PORT CERT KEY CA PEBBLE_DIRECTORY_URL LOG
'use strict';
const fs = require('fs');
const https = require('https');

const [port, cert, key, ca, upstream, log] = process.argv.slice(2);
let first = null;
const server = https.createServer(
    {cert: fs.readFileSync(cert), key: fs.readFileSync(key)}, (req, res) => {
      if (req.url === '/dir') {
        https.get(upstream, {ca: fs.readFileSync(ca)}, (up) => {
          let body = '';
          up.on('data', (d) => { body += d; });
          up.on('end', () => {
            const directory = JSON.parse(body);
            directory.renewalInfo = `https://127.0.0.1:${server.address().port}/ari`;
            res.writeHead(200, {'Content-Type': 'application/json'});
            res.end(JSON.stringify(directory));
          });
        }).on('error', () => { res.writeHead(502); res.end(); });
        return;
      }
      if (req.method === 'GET' && req.url.startsWith('/ari/')) {
        const id = req.url.slice('/ari/'.length);
        fs.appendFileSync(log, id + '\n');
        if (first === null) first = id;
        const now = Date.now();
        const [start, end] = id === first ? [now - 120000, now - 60000]
                                          : [now + 86400000, now + 2 * 86400000];
        res.writeHead(200, {'Content-Type': 'application/json', 'Retry-After': '21600'});
        res.end(JSON.stringify({suggestedWindow: {start: new Date(start).toISOString(),
                                                  end: new Date(end).toISOString()}}));
        return;
      }
      res.writeHead(404);
      res.end();
    });
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`listening on ${server.address().port}`);
});
