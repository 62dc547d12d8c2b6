/**
 * The deploy examples (deploy/, Dockerfile) must be submittable as they are: every Kubernetes YAML
 * document parses, the Indexed Job's shard count agrees with `--shard auto/N` and with the shard
 * files the merge step names, every shell script passes `bash -n`, the image runs the CLI, and
 * every option the examples pass to flexibench is one the command declares. No docker, kubectl or
 * Slurm needed: syntax and consistency only.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const repoRoot = path.resolve(import.meta.dirname, '..');
const deployDir = path.join(repoRoot, 'deploy');
const read = (file: string): string => readFileSync(path.join(repoRoot, file), 'utf8');

/** Files under deploy/, relative to the repository root. */
function deployFiles(test: (name: string) => boolean): string[] {
  return readdirSync(deployDir, { recursive: true, encoding: 'utf8' })
    .filter(test)
    .map((name) => path.join('deploy', name))
    .sort();
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  restartPolicy?: string;
  containers: Container[];
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    backoffLimitPerIndex?: number;
    suspend?: boolean;
    template?: { spec: PodSpec };
  };
}

function k8sObjects(file: string): K8sObject[] {
  return parseAllDocuments(read(file)).map((doc) => {
    expect(
      doc.errors.map((e) => e.message),
      `${file}: YAML errors`,
    ).toEqual([]);
    const obj = doc.toJS() as K8sObject;
    expect(obj.apiVersion, `${file}: a document without apiVersion`).toBeTruthy();
    expect(obj.kind).toBeTruthy();
    expect(obj.metadata?.name).toBeTruthy();
    return obj;
  });
}

/** The command line a container runs: its command and args joined (an `sh -c` script as written). */
const commandLine = (c: Container): string => [...(c.command ?? []), ...(c.args ?? [])].join(' ');

/** The value of --db in a command line, quoted or not. */
function dbOption(line: string): string | undefined {
  const m = /--db (?:"([^"]+)"|(\S+))/.exec(line);
  return m === null ? undefined : (m[1] ?? m[2]);
}

/** The `sh -c` script of a container, or null when it runs the image's entrypoint directly. */
function shellScript(c: Container): string | null {
  return c.command?.[0] === 'sh' && c.command[1] === '-c' ? (c.args?.[0] ?? null) : null;
}

const kubernetesFiles = deployFiles((name) => /^kubernetes\/.*\.ya?ml$/.test(name));
const shellFiles = deployFiles((name) => /\.(sbatch|sh)$/.test(name));

describe('deploy/kubernetes', () => {
  it('has job.yaml', () => {
    expect(kubernetesFiles).toContain(path.join('deploy', 'kubernetes', 'job.yaml'));
  });

  it.each(kubernetesFiles)('%s: every document parses and names its apiVersion, kind and name', (file) => {
    expect(k8sObjects(file).length).toBeGreaterThan(0);
  });

  const objects = k8sObjects('deploy/kubernetes/job.yaml');
  const jobs = objects.filter((o) => o.kind === 'Job');
  const shards = jobs.find((j) => j.spec.completionMode === 'Indexed');
  const merge = jobs.find((j) => j.spec.template?.spec.containers.some((c) => / merge /.test(commandLine(c))));

  it('runs the shards as an Indexed Job: completions = the N of --shard auto/N, retried per index on the same volume', () => {
    expect(shards, 'an Indexed Job').toBeDefined();
    const { spec } = shards!;
    expect(shards!.apiVersion).toBe('batch/v1');
    const container = spec.template!.spec.containers[0]!;
    const n = /--shard auto\/(\d+)/.exec(commandLine(container))?.[1];
    expect(n, '--shard auto/N in the container').toBeDefined();
    expect(spec.completions).toBe(Number(n));
    expect(spec.parallelism).toBeGreaterThan(0);
    expect(spec.parallelism).toBeLessThanOrEqual(spec.completions!);
    // A failed pod is replaced and resumes its shard's database.
    expect(spec.backoffLimitPerIndex).toBeGreaterThan(0);
    expect(spec.template!.spec.restartPolicy).toBe('Never');
  });

  it("gives each shard its own database, from JOB_COMPLETION_INDEX, on the claim's volume", () => {
    const podSpec = shards!.spec.template!.spec;
    const container = podSpec.containers[0]!;
    const db = dbOption(commandLine(container));
    expect(db).toMatch(/\$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/);
    const mount = container.volumeMounts?.find((m) => db!.startsWith(`${m.mountPath}/`));
    expect(mount, `a volume mounted above ${db}`).toBeDefined();
    const claim = podSpec.volumes?.find((v) => v.name === mount!.name)?.persistentVolumeClaim?.claimName;
    expect(claim, 'the database volume is a PersistentVolumeClaim').toBeDefined();
    expect(objects.some((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === claim)).toBe(true);
  });

  it('merges exactly shards 1..N on the same volume, then writes the report; it waits, suspended, for the shards', () => {
    expect(merge, 'a Job running flexibench merge').toBeDefined();
    const line = commandLine(merge!.spec.template!.spec.containers[0]!);
    const shardDb = dbOption(commandLine(shards!.spec.template!.spec.containers[0]!))!;
    const inputs = [...line.matchAll(/(\S+\/shard-(\d+)\.duckdb)/g)];
    expect(inputs.map((m) => Number(m[2]))).toEqual(Array.from({ length: shards!.spec.completions! }, (_, i) => i + 1));
    for (const [input] of inputs) expect(input).toBe(shardDb.replace('$((JOB_COMPLETION_INDEX + 1))', input.match(/shard-(\d+)/)![1]!));
    const out = /merge --out (\S+)/.exec(line)?.[1];
    expect(line).toContain(`report --db ${out} --out `);
    expect(merge!.spec.suspend).toBe(true);
    expect(merge!.spec.template!.spec.volumes?.[0]?.persistentVolumeClaim?.claimName).toBe(
      shards!.spec.template!.spec.volumes?.[0]?.persistentVolumeClaim?.claimName,
    );
  });

  it('runs one image everywhere, and its sh -c scripts pass sh -n', () => {
    const containers = jobs.flatMap((j) => j.spec.template!.spec.containers);
    expect(new Set(containers.map((c) => c.image)).size).toBe(1);
    for (const c of containers) {
      const script = shellScript(c);
      if (script === null) continue;
      const check = spawnSync('sh', ['-n', '-c', script], { encoding: 'utf8' });
      expect(check.stderr, `${c.name}: sh -n`).toBe('');
      expect(check.status).toBe(0);
    }
  });
});

describe('deploy shell scripts', () => {
  it('include the Slurm array, its merge job and the submit scripts', () => {
    expect(shellFiles).toEqual(
      expect.arrayContaining(['deploy/slurm/run.sbatch', 'deploy/slurm/merge.sbatch', 'deploy/slurm/submit.sh', 'deploy/kubernetes/submit.sh']),
    );
  });

  it.each(shellFiles)('%s passes bash -n', (file) => {
    const check = spawnSync('bash', ['-n', path.join(repoRoot, file)], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('run.sbatch: --array=0-(N-1) for its default SHARDS=N, shard K = SLURM_ARRAY_TASK_ID + 1, --shard auto/$SHARDS', () => {
    const script = read('deploy/slurm/run.sbatch');
    const n = Number(/^SHARDS=\$\{SHARDS:-(\d+)\}$/m.exec(script)?.[1]);
    expect(n).toBeGreaterThan(0);
    expect(script).toMatch(new RegExp(`^#SBATCH --array=0-${n - 1}$`, 'm'));
    expect(script).toContain('shard=$((SLURM_ARRAY_TASK_ID + 1))');
    expect(script).toMatch(/--shard "auto\/\$SHARDS" --db "\$RESULTS\/shard-\$shard\.duckdb"/);
    // The merge names the same files, with the same default N.
    const mergeScript = read('deploy/slurm/merge.sbatch');
    expect(mergeScript).toMatch(new RegExp(`^SHARDS=\\$\\{SHARDS:-${n}\\}$`, 'm'));
    expect(mergeScript).toContain('"$RESULTS/shard-$k.duckdb"');
    expect(read('deploy/slurm/submit.sh')).toMatch(/--dependency="afterok:\$array_job"/);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => /^[A-Z]+\s/.test(line));
  const last = (name: string): string | undefined => instructions.filter((l) => l.startsWith(`${name} `)).at(-1);

  it('builds on Node 20 with npm ci, runs bin/flexibench.js as a user other than root', () => {
    expect(instructions.find((l) => l.startsWith('FROM '))).toMatch(/^FROM node:20[-.\w]*(\s|$)/);
    expect(instructions.some((l) => /^RUN .*\bnpm ci\b/.test(l))).toBe(true);
    expect(dockerfile).toMatch(/^ARG ONNXRUNTIME_NODE_INSTALL=skip$/m);
    const entrypoint = JSON.parse(last('ENTRYPOINT')!.slice('ENTRYPOINT '.length)) as string[];
    expect(entrypoint[0]).toBe('node');
    expect(entrypoint[1]).toMatch(/bin\/flexibench\.js$/);
    expect(last('USER')).toMatch(/^USER (?!root\b|0\b)\S+/);
  });

  it('.dockerignore keeps build output and local state out, and the lockfile and reference model in', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', 'results', '.cache', 'scratch', 'training/runs']));
    for (const kept of ['models', 'package-lock.json', 'package.json', 'bin']) expect(ignored).not.toContain(kept);
  });
});

describe('the options the examples pass', () => {
  /** Each flexibench invocation in the deploy files: [file, subcommand, its --options]. */
  function invocations(): [string, string, string[]][] {
    const found: [string, string, string[]][] = [];
    const sources = [
      ...kubernetesFiles.flatMap((file) =>
        k8sObjects(file)
          .flatMap((o) => o.spec.template?.spec.containers ?? [])
          .map((c): [string, string] => [file, shellScript(c) ?? `bin/flexibench.js ${(c.args ?? []).join(' ')}`]),
      ),
      ...shellFiles.map((file): [string, string] => [file, read(file).replace(/\\\n/g, ' ')]),
    ];
    for (const [file, text] of sources) {
      for (const m of text.matchAll(/(?:bin\/flexibench\.js|"\$\{cli\[@\]\}")\s+(data pull|run|merge|report)\b([^&\n]*)/g)) {
        found.push([file, m[1]!, [...m[2]!.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((o) => o[0])]);
      }
    }
    return found;
  }

  const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
    data: () => import('../harness/commands/data.ts'),
    run: () => import('../harness/commands/run.ts'),
    merge: () => import('../harness/commands/merge.ts'),
    report: () => import('../harness/commands/report.ts'),
  };

  async function declaredOptions(subcommand: string): Promise<string[]> {
    const [name, action] = subcommand.split(' ') as [string, string | undefined];
    let { command } = await COMMANDS[name]!();
    if (action !== undefined) command = command.commands.find((c) => c.name() === action)!;
    return command.options.map((o) => o.long!);
  }

  it('are options the commands declare', async () => {
    const seen = invocations();
    expect(new Set(seen.map(([, sub]) => sub))).toEqual(new Set(['data pull', 'run', 'merge', 'report']));
    for (const [file, sub, options] of seen) {
      const declared = await declaredOptions(sub);
      for (const option of options) expect(declared, `${file}: flexibench ${sub} ${option}`).toContain(option);
    }
  });
});
