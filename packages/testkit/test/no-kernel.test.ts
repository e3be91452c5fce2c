/**
 * The kernel test files run in a child jest with no tool on PATH: none may pass without checking
 * anything. Without CI every kernel test is a skip named with its reason; with CI=true each file
 * fails. Kernel test files are found by what they run (network namespaces), so a new one that skips
 * by returning early, or by leaving its tests out, fails here.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { repoRoot } from '../src/index.js';

const root = repoRoot();
// `'--netns'` as an argument: readme.test.ts mentions --netns only to leave such README commands out.
const USES_KERNEL = /createNetns|withNetns|NetnsCluster|\['netns', '(add|exec)'|'--netns'/;

const kernelFiles = readdirSync(join(root, 'packages'))
  .flatMap((p) => {
    const dir = join(root, 'packages', p, 'test');
    try {
      return readdirSync(dir).filter((f) => f.endsWith('.test.ts')).map((f) => join(dir, f));
    } catch {
      return [];
    }
  })
  .filter((f) => !f.includes('/testkit/') && USES_KERNEL.test(readFileSync(f, 'utf8')))
  .map((f) => relative(root, f))
  .sort();

// Without root the gate says so first; as root, `ip` is the first missing command.
const WHY = /not running as root|missing commands: ip\b/;
const WHY_SKIPPED = new RegExp(`\\[skipped: (${WHY.source})`);

/** Tests of kernel files that check files only (no tool), so they pass without the kernel. */
const TOOL_FREE = [
  /^compile goldens load .* there are compile goldens of both families$/,
  /^fixtures\/parse\/\S+ (has a dump|renders as expected\.rules|holds every source rule, .*|is in the order the restore model prints a state .*)$/,
];

interface Assertion {
  readonly fullName: string;
  readonly status: 'passed' | 'failed' | 'pending' | 'todo' | 'skipped';
  readonly failureMessages: readonly string[];
}
interface Report {
  readonly testResults: readonly { readonly name: string; readonly assertionResults: readonly Assertion[]; readonly message: string }[];
}

function jestWithoutTools(ci: boolean): Promise<{ code: number; report: Report }> {
  const dir = mkdtempSync(join(tmpdir(), 'svcr-nokernel-'));
  const out = join(dir, 'report.json');
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: join(dir, 'empty') };
  // The child only reads goldens (and UPDATE_GOLDEN is refused under CI).
  delete env['UPDATE_GOLDEN'];
  if (ci) env['CI'] = 'true';
  else delete env['CI'];
  const args = [join(root, 'node_modules/jest/bin/jest.js'), '--ci', '--json', `--outputFile=${out}`, '--runTestsByPath', ...kernelFiles];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ code: code ?? 1, report: JSON.parse(readFileSync(out, 'utf8')) as Report });
      } catch (e) {
        reject(e);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

const byFile = (report: Report) => new Map(report.testResults.map((r) => [relative(root, r.name), r]));

describe('kernel tests without the kernel tools', () => {
  let runs: { local: ReturnType<typeof jestWithoutTools>; ci: ReturnType<typeof jestWithoutTools> };
  beforeAll(() => {
    // Both children run at once; nothing is left unhandled if one assertion fails first.
    runs = { local: jestWithoutTools(false), ci: jestWithoutTools(true) };
    runs.local.catch(() => undefined);
    runs.ci.catch(() => undefined);
  });

  test('the kernel test files are found (every file that makes network namespaces)', () => {
    expect(kernelFiles).toEqual(expect.arrayContaining(['packages/applier/test/applier-kernel.test.ts', 'packages/cli/test/restore-load.test.ts', 'packages/iptables/test/parse-fixtures.test.ts']));
    expect(kernelFiles.length).toBeGreaterThanOrEqual(12);
  });

  test('without CI: the run passes, every kernel test is a counted skip naming its reason, nothing else passes', async () => {
    const { code, report } = await runs.local;
    expect(code).toBe(0);
    const files = byFile(report);
    for (const file of kernelFiles) {
      const r = files.get(file);
      expect({ file, ran: r !== undefined }).toEqual({ file, ran: true });
      const skipped = r!.assertionResults.filter((a) => a.status === 'pending');
      expect({ file, skipped: skipped.length > 0 }).toEqual({ file, skipped: true });
      for (const a of skipped) expect(a.fullName).toMatch(WHY_SKIPPED);
      const passed = r!.assertionResults.filter((a) => a.status === 'passed').map((a) => a.fullName);
      expect({ file, passedWithoutTools: passed.filter((n) => !TOOL_FREE.some((re) => re.test(n))) }).toEqual({ file, passedWithoutTools: [] });
    }
  });

  test('with CI=true: the run fails, each kernel file with a test saying what is missing', async () => {
    const { code, report } = await runs.ci;
    expect(code).not.toBe(0);
    const files = byFile(report);
    for (const file of kernelFiles) {
      const failed = files.get(file)?.assertionResults.filter((a) => a.status === 'failed') ?? [];
      expect({ file, failed: failed.length > 0 }).toEqual({ file, failed: true });
      for (const a of failed) expect(a.failureMessages.join('\n')).toMatch(new RegExp(`the real-kernel tests cannot run \\((${WHY.source})`));
      const r = files.get(file)!;
      expect({ file, skipped: r.assertionResults.filter((a) => a.status === 'pending').map((a) => a.fullName) }).toEqual({ file, skipped: [] });
    }
  });
});
