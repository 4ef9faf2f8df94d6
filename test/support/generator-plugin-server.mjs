// A generator plugin, as Argo CD's plugin generator calls one: POST /api/v1/getparams.execute
// with a bearer token. Answers one parameter set per team listed in input.parameters.teams, and
// stalls for input.parameters.delayMs when asked to. Prints its port on stdout; exits on SIGTERM
// or when its parent goes away.
import { createServer } from 'node:http';

const token = process.env.PLUGIN_TOKEN ?? '';
let calls = 0;
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/api/v1/getparams.execute') {
      res.writeHead(404).end('not found');
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401).end('bad token');
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    calls++;
    const p = body.input?.parameters ?? {};
    const answer = () =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          output: {
            parameters: (p.teams ?? []).map((team, i) => ({
              team,
              appset: body.applicationSetName,
              replicas: i + 1,
              call: calls,
            })),
          },
        }),
      );
    if (p.delayMs) setTimeout(answer, p.delayMs);
    else answer();
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
setInterval(() => {
  if (process.ppid === 1) process.exit(0);
}, 1000).unref();
