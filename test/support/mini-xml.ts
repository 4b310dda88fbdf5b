// A strict, small XML reader for tests: checks well-formedness (one root, matching tags, quoted attributes, no
// duplicate attributes, only the five predefined entities and character references, no stray `<` or `&`) and returns
// a tree to assert on. Enough for syncthing's config.xml; no DTDs, no namespaces, no CDATA.

export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

const NAME = /^[A-Za-z_][\w.-]*/;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeText(raw: string, where: number): string {
  if (raw.includes('<')) throw new Error(`stray '<' at ${where}`);
  return raw.replace(/&([^;]*);?/g, (match, body: string) => {
    if (!match.endsWith(';')) throw new Error(`unterminated entity at ${where}`);
    if (body in ENTITIES) return ENTITIES[body] as string;
    const num = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(body);
    if (num?.[1] === undefined) throw new Error(`unknown entity &${body}; at ${where}`);
    const code = num[1].startsWith('x') ? parseInt(num[1].slice(1), 16) : parseInt(num[1], 10);
    return String.fromCodePoint(code);
  });
}

class Reader {
  pos = 0;
  readonly src: string;
  constructor(src: string) {
    this.src = src;
  }
  fail(msg: string): never {
    throw new Error(`${msg} at offset ${this.pos}: ${JSON.stringify(this.src.slice(this.pos, this.pos + 30))}`);
  }
  skipSpace(): void {
    while (/\s/.test(this.src[this.pos] ?? '')) this.pos++;
  }
  skipMisc(): void {
    for (;;) {
      this.skipSpace();
      if (this.src.startsWith('<?', this.pos)) this.pos = this.after('?>');
      else if (this.src.startsWith('<!--', this.pos)) this.pos = this.after('-->');
      else return;
    }
  }
  after(token: string): number {
    const end = this.src.indexOf(token, this.pos);
    if (end < 0) this.fail(`missing ${token}`);
    return end + token.length;
  }
  name(): string {
    const m = NAME.exec(this.src.slice(this.pos));
    if (!m) this.fail('expected a name');
    this.pos += m[0].length;
    return m[0];
  }
  attrs(): Record<string, string> {
    const attrs: Record<string, string> = {};
    for (;;) {
      this.skipSpace();
      const ch = this.src[this.pos];
      if (ch === '>' || ch === '/') return attrs;
      const key = this.name();
      if (key in attrs) this.fail(`duplicate attribute ${key}`);
      this.skipSpace();
      if (this.src[this.pos++] !== '=') this.fail('expected =');
      this.skipSpace();
      const quote = this.src[this.pos++];
      if (quote !== '"' && quote !== "'") this.fail('expected a quoted value');
      const end = this.src.indexOf(quote, this.pos);
      if (end < 0) this.fail('unterminated attribute value');
      attrs[key] = decodeText(this.src.slice(this.pos, end), this.pos);
      this.pos = end + 1;
    }
  }
  element(): XmlNode {
    if (this.src[this.pos++] !== '<') this.fail('expected <');
    const node: XmlNode = { name: this.name(), attrs: this.attrs(), children: [], text: '' };
    if (this.src.startsWith('/>', this.pos)) {
      this.pos += 2;
      return node;
    }
    if (this.src[this.pos++] !== '>') this.fail('expected >');
    this.content(node);
    return node;
  }
  content(node: XmlNode): void {
    for (;;) {
      const next = this.src.indexOf('<', this.pos);
      if (next < 0) this.fail(`unclosed <${node.name}>`);
      node.text += decodeText(this.src.slice(this.pos, next), this.pos);
      this.pos = next;
      if (this.src.startsWith('<!--', this.pos)) {
        this.pos = this.after('-->');
      } else if (this.src.startsWith('</', this.pos)) {
        this.pos += 2;
        if (this.name() !== node.name) this.fail(`mismatched end tag for <${node.name}>`);
        this.skipSpace();
        if (this.src[this.pos++] !== '>') this.fail('expected >');
        return;
      } else {
        node.children.push(this.element());
      }
    }
  }
}

/** Parses `src`; throws with an offset if it is not well-formed. */
export function parseXml(src: string): XmlNode {
  const r = new Reader(src);
  r.skipMisc();
  const root = r.element();
  r.skipMisc();
  if (r.pos !== src.length) r.fail('content after the root element');
  return root;
}

/** Direct children of `node` named `name`. */
export function childrenNamed(node: XmlNode, name: string): XmlNode[] {
  return node.children.filter((c) => c.name === name);
}

/** The one direct child named `name`; throws if there is not exactly one. */
export function onlyChild(node: XmlNode, name: string): XmlNode {
  const found = childrenNamed(node, name);
  if (found.length !== 1) throw new Error(`<${node.name}> has ${found.length} <${name}> children, expected 1`);
  return found[0] as XmlNode;
}
