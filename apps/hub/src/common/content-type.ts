/** The request body types the API reads (see hub.ts: JSON, and YAML as text). */
const READ = /^(application\/json|application\/[\w.+-]+\+json|application\/(x-)?yaml|text\/yaml)$/i;

interface Req {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}
interface Res {
  status(code: number): { json(body: unknown): void };
}

/**
 * Refuses a request whose body the API would not read (415), rather than handling it as if it
 * had none: a sync posted as text/plain with `{"dryRun": true}` ran a real sync.
 */
export function refuseUnreadBodies(req: Req, res: Res, next: () => void): void {
  const length = Number(req.headers['content-length'] ?? 0);
  const hasBody = length > 0 || req.headers['transfer-encoding'] !== undefined;
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    .trim();
  if (!hasBody || READ.test(type)) return next();
  res.status(415).json({
    statusCode: 415,
    error: 'Unsupported Media Type',
    message: `request body of type "${type || '(none)'}" is not read: send application/json (or application/yaml where YAML is taken)`,
  });
}
