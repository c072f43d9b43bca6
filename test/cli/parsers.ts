/**
 * The commands and flags the two command lines really accept, read from their parsers' source:
 * `pinhole` (main/cli/pinhole.ts's COMMANDS table, then every parseArgs call in each command's
 * module) and `pinhole-gateway` (each `case 'NAME':` of gateway/cli/main.ts's command switch, and
 * the parseArgs calls inside it). Option tables spread in from other modules (`...MUX_FLAG_OPTIONS`)
 * are imported and read at run time, so flags added anywhere a parser gets them count.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { repoRoot } from '../support/processes.js';

export interface CliCommand {
  /** Long flags without the dashes ('listen', 'secrets-file', 'help'). */
  flags: Set<string>;
  /** Lower-case one-word string literals in the command's code: its subcommands are among them. */
  words: Set<string>;
  /** The command's other string literals that name a flag or a command (its usage and error messages). */
  messages: string[];
}

export type Cli = Map<string, CliCommand>;

const parse = (file: string): ts.SourceFile => ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);

const walk = (node: ts.Node, visit: (node: ts.Node) => void): void => {
  visit(node);
  node.forEachChild((child) => walk(child, visit));
};

const propertyName = (name: ts.PropertyName): string | undefined =>
  ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) ? name.text : undefined;

const unwrap = (node: ts.Expression): ts.Expression => {
  let current = node;
  while (ts.isAsExpression(current) || ts.isParenthesizedExpression(current) || ts.isSatisfiesExpression(current)) current = current.expression;
  return current;
};

/**
 * Where each imported name of `source` comes from: static imports (`import { A } from './m.js'`)
 * and the lazy ones a command makes when it runs (`const { A } = await import('./m.js')`).
 */
const importsOf = (source: ts.SourceFile): Map<string, { module: string; name: string }> => {
  const names = new Map<string, { module: string; name: string }>();
  walk(source, (n) => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier) && n.importClause?.namedBindings && ts.isNamedImports(n.importClause.namedBindings)) {
      for (const element of n.importClause.namedBindings.elements) names.set(element.name.text, { module: n.moduleSpecifier.text, name: (element.propertyName ?? element.name).text });
    }
    if (ts.isVariableDeclaration(n) && ts.isObjectBindingPattern(n.name) && n.initializer && ts.isAwaitExpression(n.initializer)) {
      const call = n.initializer.expression;
      const specifier = ts.isCallExpression(call) && call.expression.kind === ts.SyntaxKind.ImportKeyword ? call.arguments[0] : undefined;
      if (!specifier || !ts.isStringLiteral(specifier)) return;
      for (const element of n.name.elements) {
        if (!ts.isIdentifier(element.name)) continue;
        const imported = element.propertyName === undefined ? element.name.text : propertyName(element.propertyName);
        if (imported !== undefined) names.set(element.name.text, { module: specifier.text, name: imported });
      }
    }
  });
  return names;
};

/** The keys of an object literal (or of the const it names, here or in an imported module). */
const objectKeys = async (expression: ts.Expression, source: ts.SourceFile): Promise<string[]> => {
  const node = unwrap(expression);
  if (ts.isObjectLiteralExpression(node)) {
    const keys: string[] = [];
    for (const property of node.properties) {
      if (ts.isSpreadAssignment(property)) keys.push(...(await objectKeys(property.expression, source)));
      else if (property.name) {
        const name = propertyName(property.name);
        if (name !== undefined) keys.push(name);
      }
    }
    return keys;
  }
  if (!ts.isIdentifier(node)) return [];
  let found: ts.Expression | undefined;
  walk(source, (n) => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === node.text && n.initializer) found = n.initializer;
  });
  const importedFrom = importsOf(source).get(node.text);
  if (found) return objectKeys(found, source);
  if (importedFrom) {
    const path = resolve(dirname(source.fileName), importedFrom.module.replace(/\.js$/, '.ts'));
    const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    const value = module[importedFrom.name];
    return value && typeof value === 'object' ? Object.keys(value) : [];
  }
  return [];
};

/** Flags of every `parseArgs({ options })` call under `root`, and its one-word string literals. */
const commandIn = async (root: ts.Node, source: ts.SourceFile): Promise<CliCommand> => {
  const calls: ts.CallExpression[] = [];
  const words = new Set<string>();
  const messages: string[] = [];
  walk(root, (n) => {
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'parseArgs') calls.push(n);
    if ((ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) && /^[a-z][a-z0-9-]*$/.test(n.text)) words.add(n.text);
    // Messages: literals with a space that name a flag or a CLI (a template's ${...} parts read as X).
    const text = ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) ? n.text : ts.isTemplateExpression(n) ? n.getText(source).slice(1, -1).replace(/\$\{[^}]*\}/g, 'X') : undefined;
    if (text !== undefined && /\s/.test(text) && /--[a-z]|\bpinhole\b/.test(text)) messages.push(text);
  });
  const flags = new Set<string>(['help']);
  for (const call of calls) {
    const arg = call.arguments[0];
    if (!arg || !ts.isObjectLiteralExpression(unwrap(arg))) continue;
    for (const property of (unwrap(arg) as ts.ObjectLiteralExpression).properties) {
      if (ts.isPropertyAssignment(property) && propertyName(property.name) === 'options') for (const key of await objectKeys(property.initializer, source)) flags.add(key);
      if (ts.isShorthandPropertyAssignment(property) && property.name.text === 'options') for (const key of await objectKeys(property.name, source)) flags.add(key);
    }
  }
  return { flags, words, messages };
};

/** `pinhole`: the COMMANDS table in main/cli/pinhole.ts, each entry's module read for its parser. */
export const readPinholeCli = async (): Promise<Cli> => {
  const entry = join(repoRoot, 'main', 'cli', 'pinhole.ts');
  const source = parse(entry);
  const cli: Cli = new Map();
  let table: ts.ObjectLiteralExpression | undefined;
  walk(source, (n) => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === 'COMMANDS' && n.initializer && ts.isObjectLiteralExpression(unwrap(n.initializer)))
      table = unwrap(n.initializer) as ts.ObjectLiteralExpression;
  });
  if (!table) throw new Error('main/cli/pinhole.ts has no COMMANDS table');
  for (const property of table.properties) {
    if (!ts.isPropertyAssignment(property)) continue;
    const name = propertyName(property.name);
    const value = unwrap(property.initializer);
    if (name === undefined || !ts.isObjectLiteralExpression(value)) continue;
    // `load: () => import('./connect.js')`: the one dynamic import inside the entry names its module.
    const load = value.properties.find((p): p is ts.PropertyAssignment => ts.isPropertyAssignment(p) && propertyName(p.name) === 'load');
    let specifier: string | undefined;
    if (load)
      walk(load.initializer, (n) => {
        if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) specifier = n.arguments[0].text;
      });
    if (specifier === undefined) throw new Error(`main/cli/pinhole.ts: the command ${name} has no load: () => import('./MODULE.js')`);
    const file = resolve(dirname(entry), specifier.replace(/\.js$/, '.ts'));
    const commandSource = parse(file);
    cli.set(name, await commandIn(commandSource, commandSource));
  }
  return cli;
};

/** Where an imported name comes from: the module file it is imported from, or undefined. */
const importedModule = (name: string, source: ts.SourceFile): string | undefined => {
  const module = importsOf(source).get(name)?.module;
  return module === undefined || !module.startsWith('.') ? undefined : resolve(dirname(source.fileName), module.replace(/\.js$/, '.ts'));
};

/**
 * A command whose case hands its arguments to a function of another module (`return
 * ticketKeysCommand(rest)`): that function's parser and words count as the command's.
 */
const delegatedCommands = async (clause: ts.Node, source: ts.SourceFile): Promise<CliCommand[]> => {
  const callees = new Set<string>();
  walk(clause, (n) => {
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.arguments.some((a) => ts.isIdentifier(a) && a.text === 'rest')) callees.add(n.expression.text);
  });
  const found: CliCommand[] = [];
  for (const callee of callees) {
    const file = importedModule(callee, source);
    if (file === undefined) continue;
    const module = parse(file);
    let declaration: ts.FunctionDeclaration | undefined;
    walk(module, (n) => {
      if (ts.isFunctionDeclaration(n) && n.name?.text === callee) declaration = n;
    });
    if (declaration) found.push(await commandIn(declaration, module));
  }
  return found;
};

const merged = (command: CliCommand, others: CliCommand[]): CliCommand => {
  for (const other of others) {
    for (const flag of other.flags) command.flags.add(flag);
    for (const word of other.words) command.words.add(word);
    command.messages.push(...other.messages);
  }
  return command;
};

/** `pinhole-gateway`: every `case 'NAME':` of the switch over the command in gateway/cli/main.ts. */
export const readGatewayCli = async (): Promise<Cli> => {
  const source = parse(join(repoRoot, 'gateway', 'cli', 'main.ts'));
  const cli: Cli = new Map();
  const switches: ts.SwitchStatement[] = [];
  walk(source, (n) => {
    if (ts.isSwitchStatement(n) && ts.isIdentifier(n.expression) && n.expression.text === 'command') switches.push(n);
  });
  for (const statement of switches) {
    for (const clause of statement.caseBlock.clauses) {
      if (!ts.isCaseClause(clause) || !ts.isStringLiteral(clause.expression) || !/^[a-z][a-z0-9-]*$/.test(clause.expression.text) || clause.expression.text === 'help') continue;
      cli.set(clause.expression.text, merged(await commandIn(clause, source), await delegatedCommands(clause, source)));
    }
  }
  if (cli.size === 0) throw new Error('gateway/cli/main.ts has no switch over `command`');
  return cli;
};
