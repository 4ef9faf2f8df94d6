import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import { KUSTOMIZATION_FILES } from './detect.js';
import { RenderError } from './errors.js';
import type { KustomizeOptions } from './types.js';

/**
 * The `kustomize edit` commands Argo CD runs (in this order) for app-level overrides, each as argv
 * after the binary. Map entries are sorted so the same options give the same commands.
 */
export function kustomizeEditCommands(o: KustomizeOptions): string[][] {
  const cmds: string[][] = [];
  if (o.namePrefix) cmds.push(['edit', 'set', 'nameprefix', '--', o.namePrefix]);
  if (o.nameSuffix) cmds.push(['edit', 'set', 'namesuffix', '--', o.nameSuffix]);
  if (o.images?.length) cmds.push(['edit', 'set', 'image', '--', ...o.images]);
  const pairs = (m: Record<string, string>) =>
    Object.keys(m)
      .sort()
      .map((k) => `${k}:${m[k]}`);
  if (o.commonLabels && Object.keys(o.commonLabels).length > 0) {
    const force = o.forceCommonLabels ? ['--force'] : [];
    cmds.push(['edit', 'add', 'label', ...force, '--', ...pairs(o.commonLabels)]);
  }
  if (o.commonAnnotations && Object.keys(o.commonAnnotations).length > 0) {
    const force = o.forceCommonAnnotations ? ['--force'] : [];
    cmds.push(['edit', 'add', 'annotation', ...force, '--', ...pairs(o.commonAnnotations)]);
  }
  if (o.namespace) cmds.push(['edit', 'set', 'namespace', '--', o.namespace]);
  return cmds;
}

/** Whether any app-level override is set. */
export function hasKustomizeOverrides(o: KustomizeOptions | undefined): o is KustomizeOptions {
  return !!o && kustomizeEditCommands(o).length > 0;
}

interface Image {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

/**
 * The same overrides as `kustomizeEditCommands`, made by editing the kustomization file here, for
 * when only `kubectl kustomize` is available (it has no `edit`). Follows kustomize v5's
 * `edit set nameprefix|namesuffix|namespace|image` and `edit add label|annotation` (into
 * `commonLabels`/`commonAnnotations`; an existing key fails unless forced). Comments and the rest
 * of the file are kept.
 */
export async function applyKustomizeEdits(dir: string, o: KustomizeOptions): Promise<void> {
  let file: string | undefined;
  for (const name of KUSTOMIZATION_FILES) {
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (st?.isFile()) {
      file = join(dir, name);
      break;
    }
  }
  if (!file) throw new RenderError(`Missing kustomization file 'kustomization.yaml'`);
  let doc = parseDocument(await readFile(file, 'utf8'));
  if (doc.errors.length > 0) {
    throw new RenderError(`invalid kustomization file: ${doc.errors[0].message.split('\n')[0]}`);
  }
  if (doc.contents === null) doc = parseDocument('{}\n');
  if (!isMap(doc.contents)) throw new RenderError('the kustomization file is not a map');
  // kustomize's edit fills these in (FixKustomization) when it rewrites the file
  if (!doc.get('kind')) doc.set('kind', 'Kustomization');
  if (!doc.get('apiVersion')) {
    const component = doc.get('kind') === 'Component';
    doc.set('apiVersion', `kustomize.config.k8s.io/${component ? 'v1alpha1' : 'v1beta1'}`);
  }
  if (o.namePrefix) doc.set('namePrefix', o.namePrefix);
  if (o.nameSuffix) doc.set('nameSuffix', o.nameSuffix);
  if (o.images?.length) doc.set('images', doc.createNode(setImages(readImages(doc), o.images)));
  if (o.commonLabels && Object.keys(o.commonLabels).length > 0) {
    addToMap(doc, 'commonLabels', 'label', o.commonLabels, !!o.forceCommonLabels);
  }
  if (o.commonAnnotations && Object.keys(o.commonAnnotations).length > 0) {
    addToMap(
      doc,
      'commonAnnotations',
      'annotation',
      o.commonAnnotations,
      !!o.forceCommonAnnotations,
    );
  }
  if (o.namespace) doc.set('namespace', o.namespace);
  await writeFile(file, doc.toString());
}

function addToMap(
  doc: Document,
  field: string,
  kind: string,
  values: Record<string, string>,
  force: boolean,
): void {
  const current: unknown = doc.get(field);
  if (current !== undefined && current !== null && !isMap(current)) {
    throw new RenderError(`${field} in the kustomization file is not a map`);
  }
  for (const k of Object.keys(values).sort()) {
    const [key, value] = parseKeyValue(`${k}:${values[k]}`, kind);
    if (!force && doc.hasIn([field, key])) {
      throw new RenderError(
        `${kind} ${key} already in kustomization file. Use --force to override.`,
      );
    }
    if (isMap(doc.get(field))) doc.setIn([field, key], value);
    else doc.set(field, doc.createNode({ [key]: value }));
  }
}

/** kustomize's ConvertSliceToMap for one `key:value` argument. */
function parseKeyValue(input: string, kind: string): [string, string] {
  const c = input.indexOf(':');
  if (c === 0)
    throw new RenderError(`invalid ${kind}: '${input}' (need k:v pair where v may be quoted)`);
  if (c < 0) return [input, ''];
  let v = input.slice(c + 1);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  return [input.slice(0, c), v];
}

function readImages(doc: Document): Image[] {
  const node: unknown = doc.get('images');
  if (node === undefined || node === null) return [];
  if (!isSeq(node)) throw new RenderError('images in the kustomization file is not a list');
  return node.toJSON().map((v: unknown) => {
    const m = (v ?? {}) as Record<string, unknown>;
    const s = (k: string) => (typeof m[k] === 'string' ? m[k] : undefined);
    return {
      name: s('name') ?? '',
      newName: s('newName'),
      newTag: s('newTag'),
      digest: s('digest'),
    };
  });
}

const PRESERVE = '*';

/** kustomize `edit set image` (merge by name, `*` keeps the current value, sorted by name). */
export function setImages(existing: Image[], args: string[]): Record<string, string>[] {
  const byName = new Map<string, Image>();
  for (const a of args) {
    const img = parseImageArg(a);
    byName.set(img.name, img);
  }
  for (const cur of existing) {
    const arg = byName.get(cur.name);
    if (!arg) {
      byName.set(cur.name, cur);
      continue;
    }
    byName.set(cur.name, {
      name: arg.name,
      newName: arg.newName === PRESERVE ? cur.newName : arg.newName,
      newTag: arg.newTag === PRESERVE ? cur.newTag : arg.newTag,
      digest: arg.digest === PRESERVE ? cur.digest : arg.digest,
    });
  }
  const clean = (v: string | undefined) => (v === PRESERVE ? undefined : v || undefined);
  return [...byName.values()]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((i) => {
      const out: Record<string, string> = { name: i.name };
      const newName = clean(i.newName);
      const newTag = clean(i.newTag);
      const digest = clean(i.digest);
      if (newName) out.newName = newName;
      if (newTag) out.newTag = newTag;
      if (digest) out.digest = digest;
      return out;
    });
}

function parseImageArg(arg: string): Image {
  const eq = arg.indexOf('=');
  const key = eq < 0 ? '' : arg.slice(0, eq);
  const value = eq < 0 ? arg : arg.slice(eq + 1);
  const [name, tag, digest] = splitImageName(value);
  if (name === arg) {
    throw new RenderError(
      `invalid image "${arg}": use <image>=<newimage>[:<newtag>][@<digest>], <image>:<newtag>[@<digest>] or <image>@<digest>`,
    );
  }
  return key === ''
    ? { name, newTag: tag, digest }
    : { name: key, newName: name, newTag: tag, digest };
}

/** kustomize's image.Split: name, tag, digest of `[host[:port]/]path[:tag][@digest]`. */
export function splitImageName(image: string): [string, string, string] {
  let search = image;
  let slash = image.indexOf('/');
  if (slash > 0) search = image.slice(slash);
  else slash = 0;
  let id = search.indexOf('@');
  let ic = search.indexOf(':');
  if (ic < 0 && id < 0) return [image, '', ''];
  if (id >= 0 && (id < ic || ic < 0)) {
    id += slash;
    return [image.slice(0, id), '', image.slice(id + 1)];
  }
  if (id >= 0 && ic >= 0) {
    id += slash;
    ic += slash;
    return [image.slice(0, ic), image.slice(ic + 1, id), image.slice(id + 1)];
  }
  ic += slash;
  return [image.slice(0, ic), image.slice(ic + 1), ''];
}
