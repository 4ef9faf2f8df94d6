/**
 * The hub's response shapes as OpenAPI schemas, read from the TypeScript types its controllers
 * return. NestJS's Swagger module documents routes, parameters and (from zod) request bodies; the
 * views the services return are TypeScript interfaces, so their schemas are derived here with the
 * compiler's type checker rather than written twice. `npm run api` writes the result to
 * apps/hub/src/common/api-responses.gen.ts, which the hub merges into its OpenAPI document.
 *
 * A method that writes its response itself (`@Res()`) names its type in a JSDoc tag:
 * `@response FleetView`.
 */
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

export type JsonSchema = Record<string, unknown>;

export interface ResponseSchemas {
  /** Named views, by type name (components.schemas). */
  schemas: Record<string, JsonSchema>;
  /** `GET /api/v1/clusters/{name}` → the schema of its success response. */
  operations: Record<string, JsonSchema>;
}

const HTTP = ['Get', 'Post', 'Put', 'Patch', 'Delete'] as const;
const MAX_DEPTH = 24;

/** Reads every `*.controller.ts` under `dir` with the project's compiler options. */
export function collectResponseSchemas(root: string, dir: string): ResponseSchemas {
  const configFile = ts.readConfigFile(join(root, 'tsconfig.json'), (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root);
  const files = ts.sys
    .readDirectory(join(root, dir), ['.ts'], undefined, ['**/*.controller.ts'])
    .filter((f) => f.endsWith('.controller.ts'));
  const program = ts.createProgram(files, { ...parsed.options, noEmit: true });
  const checker = program.getTypeChecker();
  const out: ResponseSchemas = { schemas: {}, operations: {} };
  const names = new Map<ts.Type, string>();

  const ref = (type: ts.Type, depth: number): JsonSchema => {
    const symbol = type.aliasSymbol ?? type.getSymbol();
    const name = symbol?.getName();
    const named =
      !!name &&
      /^[A-Z][A-Za-z0-9]*$/.test(name) &&
      !['Array', 'Promise', 'Date', 'Record', 'Map', 'Set'].includes(name) &&
      (type.isClassOrInterface() || !!type.aliasSymbol) &&
      !type.aliasTypeArguments?.length &&
      !(type.flags & ts.TypeFlags.Union) &&
      !(type.flags & ts.TypeFlags.Intersection);
    if (!named) return schemaOf(type, depth);
    let key = names.get(type);
    if (!key) {
      key = name;
      for (let i = 2; key in out.schemas; i++) key = `${name}${i}`;
      names.set(type, key);
      out.schemas[key] = {}; // placeholder: recursion refers to it
      // Built from the top: a type first met deep in another is stored whole, not truncated.
      out.schemas[key] = schemaOf(type, 0);
    }
    return { $ref: `#/components/schemas/${key}` };
  };

  const schemaOf = (type: ts.Type, depth: number): JsonSchema => {
    if (depth > MAX_DEPTH) return {};
    const f = type.flags;
    if (f & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return {};
    if (f & ts.TypeFlags.StringLiteral)
      return { type: 'string', enum: [(type as ts.StringLiteralType).value] };
    if (f & ts.TypeFlags.NumberLiteral)
      return { type: 'number', enum: [(type as ts.NumberLiteralType).value] };
    if (f & ts.TypeFlags.BooleanLiteral) return { type: 'boolean' };
    if (f & (ts.TypeFlags.String | ts.TypeFlags.TemplateLiteral)) return { type: 'string' };
    if (f & (ts.TypeFlags.Number | ts.TypeFlags.BigInt)) return { type: 'number' };
    if (f & ts.TypeFlags.Boolean) return { type: 'boolean' };
    if (f & ts.TypeFlags.Null) return { nullable: true };
    if (type.isUnion()) return unionSchema(type.types, depth);
    if (type.isIntersection()) return objectSchema(type, depth);
    if (checker.isArrayType(type) || checker.isTupleType(type)) {
      const args = checker.getTypeArguments(type as ts.TypeReference);
      if (checker.isTupleType(type))
        // OpenAPI 3.0 has no tuples: `items` for its tools, `prefixItems` (3.1) for typed clients.
        return {
          type: 'array',
          prefixItems: args.map((a) => ref(a, depth + 1)),
          items: args.length ? unionSchema([...args], depth + 1) : {},
          minItems: args.length,
          maxItems: args.length,
        };
      return { type: 'array', items: ref(args[0], depth + 1) };
    }
    const symbolName = type.getSymbol()?.getName();
    if (symbolName === 'Date') return { type: 'string', format: 'date-time' };
    if (symbolName === 'Buffer' || symbolName === 'Uint8Array') return { type: 'string' };
    if (f & ts.TypeFlags.Object) return objectSchema(type, depth);
    return {};
  };

  const unionSchema = (members: readonly ts.Type[], depth: number): JsonSchema => {
    const present = members.filter(
      (t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)),
    );
    const nullable = present.some((t) => t.flags & ts.TypeFlags.Null);
    const rest = present.filter((t) => !(t.flags & ts.TypeFlags.Null));
    let schema: JsonSchema;
    if (rest.length && rest.every((t) => t.flags & ts.TypeFlags.BooleanLiteral))
      schema = { type: 'boolean' };
    else if (rest.length && rest.every((t) => t.flags & ts.TypeFlags.StringLiteral))
      schema = {
        type: 'string',
        enum: rest.map((t) => (t as ts.StringLiteralType).value),
      };
    else if (rest.length === 1) schema = ref(rest[0], depth + 1);
    else if (rest.length === 0) schema = {};
    else {
      // `true | false | X` has boolean split in two: fold it back.
      const bools = rest.filter((t) => t.flags & ts.TypeFlags.BooleanLiteral);
      const others = rest.filter((t) => !(t.flags & ts.TypeFlags.BooleanLiteral));
      const options = others.map((t) => ref(t, depth + 1));
      if (bools.length) options.push({ type: 'boolean' });
      schema = options.length === 1 ? options[0] : { anyOf: options };
    }
    if (!nullable) return schema;
    return schema.$ref || schema.anyOf
      ? { anyOf: [schema], nullable: true }
      : { ...schema, nullable: true };
  };

  const objectSchema = (type: ts.Type, depth: number): JsonSchema => {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const p of checker.getPropertiesOfType(type)) {
      const decl = p.valueDeclaration ?? p.declarations?.[0];
      const t = decl ? checker.getTypeOfSymbolAtLocation(p, decl) : checker.getTypeOfSymbol(p);
      if (t.getCallSignatures().length) continue;
      // Only ever undefined (a union member's absent property): not part of the JSON.
      if (t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Never | ts.TypeFlags.Void)) continue;
      properties[p.getName()] = ref(t, depth + 1);
      const optional =
        (p.flags & ts.SymbolFlags.Optional) !== 0 ||
        (t.isUnion() && t.types.some((m) => m.flags & ts.TypeFlags.Undefined));
      if (!optional) required.push(p.getName());
    }
    const schema: JsonSchema = { type: 'object', properties };
    if (required.length) schema.required = required;
    const index = checker.getIndexInfoOfType(type, ts.IndexKind.String);
    if (index) schema.additionalProperties = ref(index.type, depth + 1);
    return schema;
  };

  for (const file of program.getSourceFiles()) {
    if (!file.fileName.endsWith('.controller.ts') || file.isDeclarationFile) continue;
    ts.forEachChild(file, (node) => {
      if (!ts.isClassDeclaration(node)) return;
      const prefix = decoratorArg(node, 'Controller');
      if (prefix === undefined) return;
      for (const member of node.members) {
        if (!ts.isMethodDeclaration(member)) continue;
        for (const verb of HTTP) {
          const sub = decoratorArg(member, verb);
          if (sub === undefined) continue;
          const path = `/${[prefix, sub].filter(Boolean).join('/')}`.replace(/:(\w+)/g, '{$1}');
          const schema = responseOf(member);
          if (schema) out.operations[`${verb.toUpperCase()} ${path}`] = schema;
        }
      }
    });
  }

  /** A type exported by a module of the hub, by name. */
  function exported(name: string): ts.Symbol | undefined {
    for (const f of program.getSourceFiles()) {
      if (f.isDeclarationFile || !f.fileName.includes('/apps/hub/')) continue;
      const module = checker.getSymbolAtLocation(f);
      const found = module && checker.getExportsOfModule(module).find((s) => s.getName() === name);
      if (found) return found;
    }
    return undefined;
  }

  function responseOf(method: ts.MethodDeclaration): JsonSchema | undefined {
    const tag = ts.getJSDocTags(method).find((t) => t.tagName.text === 'response');
    if (tag) {
      const name = String(tag.comment ?? '').trim();
      const symbol =
        checker
          .getSymbolsInScope(method, ts.SymbolFlags.Type | ts.SymbolFlags.Alias)
          .find((s) => s.getName() === name) ?? exported(name);
      if (!symbol) throw new Error(`@response ${name}: no exported type of that name`);
      const target =
        symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      return ref(checker.getDeclaredTypeOfSymbol(target), 0);
    }
    const signature = checker.getSignatureFromDeclaration(method);
    if (!signature) return undefined;
    let type = checker.getReturnTypeOfSignature(signature);
    const awaited = checker.getAwaitedType(type);
    if (awaited) type = awaited;
    if (type.flags & (ts.TypeFlags.Void | ts.TypeFlags.Undefined)) return undefined;
    return ref(type, 0);
  }

  return out;
}

/** The first string argument of a decorator (`''` when called without one), or undefined. */
function decoratorArg(node: ts.HasDecorators, name: string): string | undefined {
  for (const d of ts.getDecorators(node) ?? []) {
    if (!ts.isCallExpression(d.expression)) continue;
    const callee = d.expression.expression;
    if (!ts.isIdentifier(callee) || callee.text !== name) continue;
    const arg = d.expression.arguments[0];
    if (!arg) return '';
    if (!ts.isStringLiteralLike(arg))
      throw new Error(
        `@${name}(${arg.getText()}) in ${node.getSourceFile().fileName}: only a string literal path can be documented`,
      );
    return arg.text.replace(/^\/|\/$/g, '');
  }
  return undefined;
}

/** The generated module the hub imports (deterministic: keys sorted). */
export function responseModule(r: ResponseSchemas, generator: string, root: string): string {
  const sorted = (o: Record<string, unknown>) =>
    Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    );
  return [
    `// Generated by ${relative(root, generator)} (npm run api) from the controllers' return types.`,
    '// Do not edit: change the types and run `npm run api`.',
    `export const apiResponses = ${JSON.stringify(
      { schemas: sorted(r.schemas), operations: sorted(r.operations) },
      null,
      2,
    )} as const;`,
    '',
  ].join('\n');
}

export const repoRoot = (from: string) => {
  let dir = from;
  while (!ts.sys.fileExists(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
};
