/** A port of Go's text/template/parse parser (parse.go). */
import { TemplateError } from '../errors.js';
import { T, Lexer, itemString, type Item } from './lexer.js';
import type {
  ActionNode,
  FieldNode,
  ArgNode,
  BranchNode,
  CommandNode,
  ListNode,
  Node,
  NumberNode,
  PipeNode,
  TemplateNode,
  TreeRef,
  VariableNode,
} from './nodes.js';
import { nodeString } from './nodes.js';
import { columnOf, isEmptyTree, newNumber } from './parse-util.js';
import { quote, unquote } from './strconv.js';

export interface Tree extends TreeRef {
  root: ListNode | null;
}

/** All templates defined by one parse: the main one plus {{define}}/{{block}} ones. */
export type TreeSet = Map<string, Tree>;

// Go allows 10000 nested parenthesized pipelines; JS stacks are smaller, so stop earlier.
const maxStackDepth = 1000;

export class Parser {
  tree: Tree;
  lex: Lexer;
  token: [Item, Item, Item];
  peekCount = 0;
  vars: string[] = ['$'];
  actionLine = 0;
  rangeDepth = 0;
  stackDepth = 0;

  constructor(
    name: string,
    readonly parseName: string,
    readonly text: string,
    lex: Lexer,
    readonly treeSet: TreeSet,
    readonly hasFunction: (name: string) => boolean,
  ) {
    this.tree = { name, parseName, text, root: null };
    this.lex = lex;
    const eof: Item = { typ: T.EOF, pos: 0, val: '', line: 1 };
    this.token = [eof, eof, eof];
    lex.breakOK = !hasFunction('break');
    lex.continueOK = !hasFunction('continue');
  }

  // ---- token handling ----
  next(): Item {
    if (this.peekCount > 0) this.peekCount--;
    else this.token[0] = this.lex.nextItem();
    return this.token[this.peekCount];
  }
  backup(): void {
    this.peekCount++;
  }
  backup2(t1: Item): void {
    this.token[1] = t1;
    this.peekCount = 2;
  }
  backup3(t2: Item, t1: Item): void {
    this.token[1] = t1;
    this.token[2] = t2;
    this.peekCount = 3;
  }
  peek(): Item {
    if (this.peekCount > 0) return this.token[this.peekCount - 1];
    this.peekCount = 1;
    this.token[0] = this.lex.nextItem();
    return this.token[0];
  }
  nextNonSpace(): Item {
    let token: Item;
    do token = this.next();
    while (token.typ === T.Space);
    return token;
  }
  peekNonSpace(): Item {
    const token = this.nextNonSpace();
    this.backup();
    return token;
  }

  errorf(msg: string): never {
    this.tree.root = null;
    const line = this.token[0].line;
    throw new TemplateError(
      `template: ${this.parseName}:${line}: ${msg}`,
      'parse',
      this.parseName,
      {
        line,
        col: columnOf(this.text, Math.min(this.token[0].pos, this.text.length)),
      },
    );
  }

  expect(expected: T, context: string): Item {
    const token = this.nextNonSpace();
    if (token.typ !== expected) this.unexpected(token, context);
    return token;
  }
  expectOneOf(e1: T, e2: T, context: string): Item {
    const token = this.nextNonSpace();
    if (token.typ !== e1 && token.typ !== e2) this.unexpected(token, context);
    return token;
  }
  unexpected(token: Item, context: string): never {
    if (token.typ === T.Error) {
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== token.line) {
        extra = ` in action started at ${this.parseName}:${this.actionLine}`;
        if (token.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      this.errorf(`${itemString(token)}${extra}`);
    }
    this.errorf(`unexpected ${itemString(token)} in ${context}`);
  }

  // ---- node constructors ----
  private ref(): TreeRef {
    return this.tree;
  }
  newList(pos: number): ListNode {
    return { type: 'list', pos, tree: this.ref(), nodes: [] };
  }

  // ---- grammar ----
  parse(): void {
    this.tree.root = this.newList(this.peek().pos);
    while (this.peek().typ !== T.EOF) {
      if (this.peek().typ === T.LeftDelim) {
        const delim = this.next();
        if (this.nextNonSpace().typ === T.Define) {
          const newT = new Parser(
            'definition',
            this.parseName,
            this.text,
            this.lex,
            this.treeSet,
            this.hasFunction,
          );
          newT.parseDefinition();
          continue;
        }
        this.backup2(delim);
      }
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') this.errorf(`unexpected ${nodeString(n)}`);
      this.tree.root.nodes.push(n);
    }
  }

  add(): void {
    const existing = this.treeSet.get(this.tree.name);
    if (!existing || isEmptyTree(existing.root)) {
      this.treeSet.set(this.tree.name, this.tree);
      return;
    }
    if (!isEmptyTree(this.tree.root))
      this.errorf(`template: multiple definition of template ${quoteName(this.tree.name)}`);
  }

  parseDefinition(): void {
    const context = 'define clause';
    const name = this.expectOneOf(T.String, T.RawString, context);
    try {
      this.tree.name = unquote(name.val);
    } catch (e) {
      this.errorf((e as Error).message);
    }
    this.expect(T.RightDelim, context);
    const [list, end] = this.itemList();
    this.tree.root = list;
    if (end.type !== 'end') this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    this.add();
  }

  itemList(): [ListNode, Node] {
    const list = this.newList(this.peekNonSpace().pos);
    while (this.peekNonSpace().typ !== T.EOF) {
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') return [list, n];
      list.nodes.push(n);
    }
    this.errorf('unexpected EOF');
  }

  textOrAction(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case T.Text:
        return { type: 'text', pos: token.pos, tree: this.ref(), text: token.val };
      case T.LeftDelim: {
        this.actionLine = token.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      }
      case T.Comment:
        return { type: 'comment', pos: token.pos, tree: this.ref(), text: token.val };
      default:
        this.unexpected(token, 'input');
    }
  }

  action(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case T.Block:
        return this.blockControl();
      case T.Break:
        return this.breakControl(token.pos, token.line, 'break');
      case T.Continue:
        return this.breakControl(token.pos, token.line, 'continue');
      case T.Else:
        return this.elseControl();
      case T.End:
        return { type: 'end', pos: this.expect(T.RightDelim, 'end').pos, tree: this.ref() };
      case T.If:
        return this.branch('if');
      case T.Range:
        return this.branch('range');
      case T.Template:
        return this.templateControl();
      case T.With:
        return this.branch('with');
      default:
    }
    this.backup();
    const t = this.peek();
    const node: ActionNode = {
      type: 'action',
      pos: t.pos,
      line: t.line,
      tree: this.ref(),
      pipe: this.pipeline('command', T.RightDelim),
    };
    return node;
  }

  breakControl(pos: number, line: number, kind: 'break' | 'continue'): Node {
    const token = this.nextNonSpace();
    if (token.typ !== T.RightDelim) this.unexpected(token, `{{${kind}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${kind}}} outside {{range}}`);
    return { type: kind, pos, line, tree: this.ref() };
  }

  // eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
  pipeline(context: string, end: T): PipeNode {
    const token = this.peekNonSpace();
    const pipe: PipeNode = {
      type: 'pipe',
      pos: token.pos,
      line: token.line,
      tree: this.ref(),
      isAssign: false,
      decl: [],
      cmds: [],
    };
    decls: for (;;) {
      const v = this.peekNonSpace();
      if (v.typ === T.Variable) {
        this.next();
        const tokenAfterVariable = this.peek();
        const next = this.peekNonSpace();
        if (next.typ === T.Assign || next.typ === T.Declare) {
          pipe.isAssign = next.typ === T.Assign;
          this.nextNonSpace();
          pipe.decl.push(this.newVariable(v.pos, v.val));
          this.vars.push(v.val);
        } else if (next.typ === T.Char && next.val === ',') {
          this.nextNonSpace();
          pipe.decl.push(this.newVariable(v.pos, v.val));
          this.vars.push(v.val);
          if (context === 'range' && pipe.decl.length < 2) {
            const p = this.peekNonSpace().typ;
            if (p === T.Variable || p === T.RightDelim || p === T.RightParen) continue decls;
            this.errorf('range can only initialize variables');
          }
          this.errorf(`too many declarations in ${context}`);
        } else if (tokenAfterVariable.typ === T.Space) {
          this.backup3(v, tokenAfterVariable);
        } else {
          this.backup2(v);
        }
      }
      break;
    }
    for (;;) {
      const token = this.nextNonSpace();
      switch (token.typ) {
        case end:
          this.checkPipeline(pipe, context);
          return pipe;
        case T.Bool:
        case T.CharConstant:
        case T.Complex:
        case T.Dot:
        case T.Field:
        case T.Identifier:
        case T.Number:
        case T.Nil:
        case T.RawString:
        case T.String:
        case T.Variable:
        case T.LeftParen:
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(token, context);
      }
    }
  }

  checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    for (let i = 1; i < pipe.cmds.length; i++) {
      const t = pipe.cmds[i].args[0].type;
      if (t === 'bool' || t === 'dot' || t === 'nil' || t === 'number' || t === 'string') {
        this.errorf(`non executable command in pipeline stage ${i + 1}`);
      }
    }
  }

  branch(context: 'if' | 'range' | 'with'): BranchNode {
    const mark = this.vars.length;
    try {
      const pipe = this.pipeline(context, T.RightDelim);
      if (context === 'range') this.rangeDepth++;
      const [list, first] = this.itemList();
      let next = first;
      if (context === 'range') this.rangeDepth--;
      let elseList: ListNode | null = null;
      if (next.type === 'else') {
        if (context === 'if' && this.peek().typ === T.If) {
          this.next();
          elseList = this.newList(next.pos);
          elseList.nodes.push(this.branch('if'));
        } else if (context === 'with' && this.peek().typ === T.With) {
          this.next();
          elseList = this.newList(next.pos);
          elseList.nodes.push(this.branch('with'));
        } else {
          [elseList, next] = this.itemList();
          if (next.type !== 'end') this.errorf(`expected end; found ${nodeString(next)}`);
        }
      }
      return {
        type: context,
        pos: pipe.pos,
        line: pipe.line,
        tree: this.ref(),
        pipe,
        list,
        elseList,
      };
    } finally {
      this.vars.length = mark;
    }
  }

  elseControl(): Node {
    const peek = this.peekNonSpace();
    if (peek.typ === T.If || peek.typ === T.With) {
      return { type: 'else', pos: peek.pos, line: peek.line, tree: this.ref() };
    }
    const token = this.expect(T.RightDelim, 'else');
    return { type: 'else', pos: token.pos, line: token.line, tree: this.ref() };
  }

  blockControl(): Node {
    const context = 'block clause';
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    const pipe = this.pipeline(context, T.RightDelim);
    const block = new Parser(
      name,
      this.parseName,
      this.text,
      this.lex,
      this.treeSet,
      this.hasFunction,
    );
    const [list, end] = block.itemList();
    block.tree.root = list;
    if (end.type !== 'end') this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    block.add();
    const node: TemplateNode = {
      type: 'template',
      pos: token.pos,
      line: token.line,
      tree: this.ref(),
      name,
      pipe,
    };
    return node;
  }

  templateControl(): Node {
    const context = 'template clause';
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().typ !== T.RightDelim) {
      this.backup();
      pipe = this.pipeline(context, T.RightDelim);
    }
    const node: TemplateNode = {
      type: 'template',
      pos: token.pos,
      line: token.line,
      tree: this.ref(),
      name,
      pipe,
    };
    return node;
  }

  parseTemplateName(token: Item, context: string): string {
    if (token.typ === T.String || token.typ === T.RawString) {
      try {
        return unquote(token.val);
      } catch (e) {
        this.errorf((e as Error).message);
      }
    }
    this.unexpected(token, context);
  }

  command(): CommandNode {
    const cmd: CommandNode = {
      type: 'command',
      pos: this.peekNonSpace().pos,
      tree: this.ref(),
      args: [],
    };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const token = this.next();
      if (token.typ === T.Space) continue;
      if (token.typ === T.RightDelim || token.typ === T.RightParen) this.backup();
      else if (token.typ !== T.Pipe) this.unexpected(token, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  operand(): ArgNode | null {
    let node = this.term();
    if (!node) return null;
    if (this.peek().typ === T.Field) {
      const pos = this.peek().pos;
      const fields: string[] = [];
      while (this.peek().typ === T.Field) fields.push(this.next().val.slice(1));
      switch (node.type as string) {
        case 'field':
          node = {
            type: 'field',
            pos,
            tree: this.ref(),
            ident: [...(node as FieldNode).ident, ...fields],
          };
          break;
        case 'variable':
          node = this.newVariable(pos, [...(node as VariableNode).ident, ...fields].join('.'));
          break;
        case 'bool':
        case 'string':
        case 'number':
        case 'nil':
        case 'dot':
          this.errorf(`unexpected . after term ${quoteName(nodeString(node))}`);
        // falls through (errorf never returns)
        default:
          node = { type: 'chain', pos, tree: this.ref(), node, field: fields };
      }
    }
    return node;
  }

  term(): ArgNode | null {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case T.Identifier:
        if (!this.hasFunction(token.val))
          this.errorf(`function ${quoteName(token.val)} not defined`);
        return { type: 'identifier', pos: token.pos, tree: this.ref(), ident: token.val };
      case T.Dot:
        return { type: 'dot', pos: token.pos, tree: this.ref() };
      case T.Nil:
        return { type: 'nil', pos: token.pos, tree: this.ref() };
      case T.Variable:
        return this.useVar(token.pos, token.val);
      case T.Field:
        return {
          type: 'field',
          pos: token.pos,
          tree: this.ref(),
          ident: token.val.slice(1).split('.'),
        };
      case T.Bool:
        return { type: 'bool', pos: token.pos, tree: this.ref(), value: token.val === 'true' };
      case T.CharConstant:
      case T.Complex:
      case T.Number:
        return this.newNumber(token.pos, token.val, token.typ);
      case T.LeftParen: {
        if (this.stackDepth >= maxStackDepth) this.errorf('max expression depth exceeded');
        this.stackDepth++;
        try {
          return this.pipeline('parenthesized pipeline', T.RightParen);
        } finally {
          this.stackDepth--;
        }
      }
      case T.String:
      case T.RawString: {
        let s = '';
        try {
          s = unquote(token.val);
        } catch (e) {
          this.errorf((e as Error).message);
        }
        return { type: 'string', pos: token.pos, tree: this.ref(), quoted: token.val, text: s };
      }
      default:
    }
    this.backup();
    return null;
  }

  newVariable(pos: number, ident: string): VariableNode {
    return { type: 'variable', pos, tree: this.ref(), ident: ident.split('.') };
  }

  useVar(pos: number, name: string): VariableNode {
    const v = this.newVariable(pos, name);
    if (this.vars.includes(v.ident[0])) return v;
    this.errorf(`undefined variable ${quoteName(v.ident[0])}`);
  }

  newNumber(pos: number, text: string, typ: T): NumberNode {
    return newNumber(pos, text, typ, this.tree, (m) => this.errorf(m));
  }
}

function quoteName(s: string): string {
  return quote(s);
}

/** Parse `text` into a tree set; the main template is stored under `name`. */
export function parseTemplate(
  name: string,
  text: string,
  hasFunction: (name: string) => boolean,
): TreeSet {
  const treeSet: TreeSet = new Map();
  const lex = new Lexer(name, text);
  const p = new Parser(name, name, text, lex, treeSet, hasFunction);
  try {
    p.parse();
    p.add();
  } catch (e) {
    if (e instanceof RangeError) {
      throw new TemplateError(`template: ${name}: template nesting too deep`, 'limit', name);
    }
    throw e;
  }
  return treeSet;
}

export { columnOf, isEmptyTree, lineOf } from './parse-util.js';
