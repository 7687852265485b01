// Command gocompat builds a fixed set of LLB graphs with BuildKit's own Go client/llb package and
// prints, as JSON, every op of each marshaled Definition (hex) plus its metadata.
//
// tests/gocompat/test_gocompat.py builds the same graphs with dalecpy.llb and compares them byte for
// byte against the committed output of this program (tests/gocompat/go_ops.json). Build and run it
// with scripts/gocompat.sh, which fetches the Go toolchain and BuildKit's source from Debian.
//
// Every graph is marshaled with State.Marshal(ctx) and no options: no daemon caps (dalecpy's
// marshal(caps=None)) and the host's default platform (linux/amd64).
//
// Keep the graphs here and in test_gocompat.py in step: same names, same parameters.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"

	"github.com/moby/buildkit/client/llb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

type graph struct {
	name  string
	state llb.State
}

type opMeta struct {
	Caps        []string          `json:"caps"`
	Description map[string]string `json:"description,omitempty"`
	IgnoreCache bool              `json:"ignore_cache,omitempty"`
}

type result struct {
	Name     string            `json:"name"`
	Ops      []string          `json:"ops"`
	Digests  []string          `json:"digests"`
	Metadata map[string]opMeta `json:"metadata"`
}

type output struct {
	Generator map[string]string `json:"generator"`
	Graphs    []result          `json:"graphs"`
}

func main() {
	ctx := context.Background()
	out := output{
		Generator: map[string]string{
			"go":       runtime.Version(),
			"goos":     runtime.GOOS,
			"goarch":   runtime.GOARCH,
			"buildkit": os.Getenv("GOCOMPAT_BUILDKIT_SOURCE"),
		},
	}
	for _, g := range graphs() {
		def, err := g.state.Marshal(ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", g.name, err)
			os.Exit(1)
		}
		r := result{Name: g.name, Ops: []string{}, Digests: []string{}, Metadata: map[string]opMeta{}}
		for _, dt := range def.Def {
			r.Ops = append(r.Ops, hex.EncodeToString(dt))
			r.Digests = append(r.Digests, digest.FromBytes(dt).String())
		}
		for dgst, md := range def.Metadata {
			m := opMeta{Caps: []string{}, Description: md.Description, IgnoreCache: md.IgnoreCache}
			for c, ok := range md.Caps {
				if ok {
					m.Caps = append(m.Caps, string(c))
				}
			}
			sort.Strings(m.Caps)
			r.Metadata[string(dgst)] = m
		}
		out.Graphs = append(out.Graphs, r)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func graphs() []graph {
	var gs []graph
	add := func(name string, st llb.State) { gs = append(gs, graph{name, st}) }

	// --- sources ------------------------------------------------------------------------------
	add("scratch", llb.Scratch())
	add("image_default", llb.Image("debian:bookworm"))
	add("image_platform_arm64", llb.Image("docker.io/library/debian:bookworm",
		llb.Platform(ocispecs.Platform{OS: "linux", Architecture: "arm64"})))
	add("image_platform_armv7_exec", llb.Image("alpine",
		llb.Platform(ocispecs.Platform{OS: "linux", Architecture: "arm", Variant: "v7"})).
		Run(llb.Args([]string{"uname", "-m"})).Root())
	add("image_resolve_pull_named", llb.Image("ghcr.io/example/builder:1.2",
		llb.ResolveModeForcePull, llb.WithCustomName("builder image")))
	add("image_resolve_local", llb.Image("busybox", llb.ResolveModePreferLocal))
	add("image_digest", llb.Image("alpine@sha256:1e42bbe2508154c9126d48c2b8a75420c3544343bf86fd041fb7527e017a4b4a"))

	add("local", llb.Local("context",
		llb.SessionID("s3ss10n-id"),
		llb.SharedKeyHint("context"),
		llb.IncludePatterns([]string{"src/**", "*.go", "a<b>&c"}),
		llb.ExcludePatterns([]string{"**/*_test.go", "vendor"}),
		llb.FollowPaths([]string{"src", "go.mod"}),
		llb.WithCustomName("context context (source src)")))
	add("local_minimal", llb.Local("dalec-ctx", llb.SessionID("sid")))

	add("git_keepgitdir", llb.Git("https://github.com/moby/buildkit.git", "v0.17.0",
		llb.KeepGitDir(), llb.WithCustomName("git https://github.com/moby/buildkit.git#v0.17.0 (source bk)")))
	add("git_plain", llb.Git("https://github.com/moby/buildkit.git", "0123456789abcdef0123456789abcdef01234567"))
	add("git_auth", llb.Git("https://gitlab.example.com/group/repo.git", "main",
		llb.AuthTokenSecret("my-token"), llb.AuthHeaderSecret("my-header")))
	add("git_ssh", llb.Git("git@github.com:moby/buildkit.git", "main",
		llb.MountSSHSock("gitssh"), llb.KnownSSHHosts("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")))

	add("http", llb.HTTP("https://example.com/releases/tool-1.0.tar.gz",
		llb.Checksum(digest.Digest("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")),
		llb.Filename("tool.tar.gz"), llb.Chmod(0755),
		llb.WithCustomName("http https://example.com/releases/tool-1.0.tar.gz (source tool)")))
	add("http_chown", llb.HTTP("https://example.com/file.txt", llb.Chown(1000, 1001), llb.Chmod(0600)))

	// --- exec ---------------------------------------------------------------------------------
	add("exec_full", execFull().Root())
	add("exec_outputs", execOutputs())
	add("exec_env_order", llb.Image("busybox").
		AddEnv("A", "1").AddEnv("B", "2").AddEnv("A", "3").AddEnv("PATH", "/bin").
		Dir("/a").Dir("b").
		Run(llb.Args([]string{"env"}), llb.AddEnv("C", "4"), llb.AddEnv("B", "5")).Root())
	add("exec_ssh_default_target", llb.Image("busybox").Run(
		llb.Args([]string{"ssh-add", "-l"}),
		llb.AddSSHSocket(),
		llb.AddSSHSocket(llb.SSHID("other"), llb.SSHSocketOpt("", 1000, 1000, 0400)),
	).Root())
	add("exec_ssh_env_preset", llb.Image("busybox").AddEnv("SSH_AUTH_SOCK", "/custom.sock").Run(
		llb.Args([]string{"true"}),
		llb.AddSSHSocket(llb.SSHID("default"), llb.SSHSocketTarget("/run/ssh.sock")),
	).Root())
	add("exec_network_host", llb.Image("busybox").Network(llb.NetModeHost).
		Run(llb.Args([]string{"wget", "example.com"})).Root())

	// --- file ops -----------------------------------------------------------------------------
	add("fileop_chain", fileChain())
	add("fileop_scratch_mkfile", llb.Scratch().File(
		llb.Mkfile("/hello.txt", 0644, []byte("hello\n")), llb.WithCustomName("inline file hello.txt")))
	add("fileop_copy_filter", copyFilter())
	add("fileop_chown", llb.Image("busybox").File(
		llb.Mkdir("/home/u", 0700, llb.WithUser("builder:staff")).
			Mkfile("/home/u/a", 0600, []byte("a"), llb.WithUIDGID(1000, 1000)).
			Mkfile("/home/u/b", 0600, []byte("b"), llb.WithUser("root:1000")).
			Mkdir("/home/v", 0755, llb.WithUIDGID(0, 1000)).
			Copy(llb.Image("alpine"), "/etc/passwd", "/home/u/passwd", llb.WithUser("builder")),
	))
	add("fileop_copy_mode", llb.Scratch().File(
		llb.Copy(llb.Image("alpine"), "/bin/busybox", "/busybox", &llb.CopyInfo{
			Mode: &llb.ChmodOpt{Mode: 0o755}, FollowSymlinks: true, AllowWildcard: true, AllowEmptyWildcard: true,
		})))

	// --- metadata -----------------------------------------------------------------------------
	add("ignore_cache", ignoreCache())
	add("same_digest_merge", sameDigestMerge())
	add("shared_input", sharedInput())

	// --- a realistic graph: what dalecpy/compile/debian.py emits for specs/bazel-genrule.yml ----
	deb, container := realistic()
	add("realistic_deb", deb)
	add("realistic_container", container)
	return gs
}

func execFull() llb.ExecState {
	base := llb.Image("debian:bookworm").
		AddEnv("PATH", defaultPath).
		AddEnv("DEBIAN_FRONTEND", "noninteractive").
		Dir("/src").
		User("builder")
	src := llb.Local("context", llb.SessionID("sess"), llb.SharedKeyHint("context"))
	outDir := llb.Image("alpine").File(llb.Mkdir("/sub/dir", 0755, llb.WithParents(true)))
	return base.Run(
		llb.Args([]string{"/bin/sh", "-c", "make -j2 && make install DESTDIR=/out"}),
		llb.AddEnv("GOCACHE", "/cache/go"),
		llb.AddEnv("DEBIAN_FRONTEND", "readline"),
		llb.Dir("/work"),
		llb.User("1000:1000"),
		llb.Network(llb.NetModeNone),
		llb.AddMount("/src", src, llb.Readonly),
		llb.AddMount("/out", outDir, llb.SourcePath("/sub/dir")),
		llb.AddMount("/scratch", llb.Scratch()),
		llb.AddMount("/cache/shared", llb.Scratch(), llb.AsPersistentCacheDir("cache-shared", llb.CacheMountShared)),
		llb.AddMount("/cache/private", llb.Scratch(), llb.AsPersistentCacheDir("cache-private", llb.CacheMountPrivate)),
		llb.AddMount("/cache/locked", llb.Scratch(), llb.AsPersistentCacheDir("cache-locked", llb.CacheMountLocked)),
		llb.AddMount("/tmp", llb.Scratch(), llb.Tmpfs()),
		llb.AddMount("/dev/shm", llb.Scratch(), llb.Tmpfs(llb.TmpfsSize(64<<20))),
		llb.AddSecret("/run/secrets/token", llb.SecretID("token"), llb.SecretFileOpt(1000, 1000, 0440), llb.SecretOptional),
		llb.AddSecret("/run/secrets/plain", llb.SecretID("plain")),
		llb.AddSSHSocket(llb.SSHID("default"), llb.SSHSocketTarget("/run/ssh.sock"), llb.SSHOptional),
		llb.WithCustomName("Build everything"),
	)
}

// execOutputs copies the root and two read-write mount outputs of one exec into one tree.
func execOutputs() llb.State {
	es := execFull()
	out := es.GetMount("/out")
	scr := es.GetMount("/scratch")
	return llb.Scratch().File(
		llb.Copy(es.Root(), "/usr/bin/tool", "/bin/tool").
			Copy(out, "/", "/out", &llb.CopyInfo{CopyDirContentsOnly: true, CreateDestPath: true}).
			Copy(scr, "/", "/scratch/", &llb.CopyInfo{CopyDirContentsOnly: true, CreateDestPath: true}),
		llb.WithCustomName("collect outputs"))
}

func fileChain() llb.State {
	base := llb.Image("debian:bookworm").Dir("/work")
	ctxSt := llb.Local("context", llb.SessionID("sess")).Dir("/app")
	return base.File(
		llb.Mkdir("/a/b/c", 0755, llb.WithParents(true)).
			Mkdir("rel", 0700).
			Mkfile("/a/b/c/f.txt", 0644, []byte("hello\x00\xffworld\n")).
			Mkfile("rel/g.txt", 0600, []byte("")).
			Copy(ctxSt, "src/", "/dst/", &llb.CopyInfo{CopyDirContentsOnly: true, CreateDestPath: true}).
			Copy(ctxSt, "/abs/file", "dest/.", &llb.CopyInfo{}).
			Copy(base, "/etc/os-release", "../up/./os-release").
			Rm("/a/b/c/f.txt", llb.WithAllowNotFound(true)).
			Rm("/tmp/*", llb.WithAllowWildcard(true)),
		llb.WithCustomName("file chain"))
}

func copyFilter() llb.State {
	// dalecpy/compile/sources.py _filter: a source's sub-path with include/exclude patterns.
	g := llb.Git("https://github.com/example/project.git", "v1.2.3", llb.KeepGitDir())
	return llb.Scratch().File(
		llb.Copy(g, "/cmd/tool", "/", &llb.CopyInfo{
			CopyDirContentsOnly: true,
			IncludePatterns:     []string{"*.go", "go.*"},
			ExcludePatterns:     []string{"*_test.go"},
			AllowWildcard:       true,
			CreateDestPath:      true,
		}),
		llb.WithCustomName("filter source src: /cmd/tool"))
}

func ignoreCache() llb.State {
	base := llb.Image("busybox")
	st := base.Run(llb.Args([]string{"date"}), llb.IgnoreCache, llb.WithCustomName("no cache run")).Root()
	return st.File(llb.Mkfile("/stamp", 0644, []byte("x")), llb.IgnoreCache)
}

// sameDigestMerge: two distinct but equal source vertices (one digest) with different names.
func sameDigestMerge() llb.State {
	a := llb.Image("alpine:3.20", llb.WithCustomName("first name"))
	b := llb.Image("alpine:3.20", llb.WithCustomName("second name"))
	return a.Run(llb.Args([]string{"ls"}), llb.AddMount("/b", b, llb.Readonly)).Root()
}

// sharedInput: a diamond; one image feeds two execs, whose results meet again (and the same state is
// mounted twice, which Go dedupes into one input).
func sharedInput() llb.State {
	base := llb.Image("debian:bookworm")
	left := base.Run(llb.Args([]string{"touch", "/left"})).Root()
	right := base.Run(llb.Args([]string{"touch", "/right"})).Root()
	joined := left.Run(
		llb.Args([]string{"cp", "/r/right", "/"}),
		llb.AddMount("/r", right, llb.Readonly),
		llb.AddMount("/r2", right, llb.Readonly),
		llb.AddMount("/base", base, llb.Readonly),
	).Root()
	return llb.Scratch().File(
		llb.Copy(joined, "/left", "/left").
			Copy(right, "/right", "/right").
			Copy(joined, "/right", "/right2"))
}

// --- realistic graph -----------------------------------------------------------------------------

const scriptDir = "/tmp/dalec/internal"

const depsControl = "Package: dalecpy-build-deps-bazel-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: dalecpy <dalecpy@localhost>\nDepends: bazel-bootstrap\nDescription: build dependencies of bazel-hello\n"

const installDeps = "#!/bin/sh\nset -e\nrm -f /etc/apt/apt.conf.d/docker-clean\napt-get update\nmkdir -p /tmp/dalec/deps/DEBIAN\ncp /tmp/dalec/internal/deps.control /tmp/dalec/deps/DEBIAN/control\ndpkg-deb --build /tmp/dalec/deps /tmp/dalec/deps.deb >/dev/null\napt-get install -y --no-install-recommends /tmp/dalec/deps.deb\nrm -rf /tmp/dalec/deps /tmp/dalec/deps.deb\n"

const buildBUILD = "genrule(\n    name = \"hello\",\n    srcs = [\"greeting.txt\"],\n    outs = [\"bazel-hello\"],\n    cmd = \"(echo '#!/bin/sh'; echo \\\"echo '$$(cat $(location greeting.txt))'\\\") > $@\",\n    executable = True,\n)\n"

const bazelrc = "\nbuild --disk_cache=/tmp/dalec/bazel-local-cache\nfetch --disk_cache=/tmp/dalec/bazel-local-cache\n"

const buildSh = "#!/bin/sh\nset -e\nexport HOME=\"${HOME:-/root}\"\nif [ -S \"/tmp/dalec/bazel-remote.sock\" ]; then\n  echo \"build --remote_cache=unix:/tmp/dalec/bazel-remote.sock\" >> /etc/bazel.bazelrc\n  echo \"fetch --remote_cache=unix:/tmp/dalec/bazel-remote.sock\" >> /etc/bazel.bazelrc\nfi\n(\ncat /etc/bazel.bazelrc\ncd src\nbazel build --color=no --curses=no //:hello\nmkdir -p ../out && cp -L bazel-bin/bazel-hello ../out/bazel-hello\nbazel shutdown\n)\n"

const pkgControl = "Package: bazel-hello\nVersion: 1.0.0-1\nArchitecture: amd64\nMaintainer: dalecpy examples <examples@example.com>\nHomepage: https://example.com/bazel-hello\nDescription: A Bazel genrule project built with the Bazel disk cache.\n"

const packageSh = "#!/bin/sh\nset -e\nR=/tmp/dalec/pkgroot\nrm -rf \"$R\" && mkdir -p \"$R/DEBIAN\"\ndalec_install() {\n  mode=\"$1\"; dir=\"$R$2\"; name=\"$3\"; shift 3\n  [ -e \"$1\" ] || [ -L \"$1\" ] || { printf 'dalecpy: artifact not found: %s\\n' \"$1\" >&2; exit 1; }\n  mkdir -p -- \"$dir\"\n  for src in \"$@\"; do\n    base=$(basename -- \"$src\")\n    case \"$base\" in .|..) continue ;; esac\n    dest=\"$dir/${name:-$base}\"\n    mkdir -p -- \"$(dirname -- \"$dest\")\"\n    if [ -d \"$src\" ]; then mkdir -p -- \"$dest\" && cp -a -- \"$src/.\" \"$dest/\"\n    elif [ \"$mode\" = \"-\" ]; then install -m 0644 -- \"$src\" \"$dest\"\n    else install -m \"$mode\" -- \"$src\" \"$dest\"; fi\n  done\n}\n\ncd /build\ndalec_install 755 '/usr/bin' '' 'out/bazel-hello'\ncp /tmp/dalec/internal/control \"$R/DEBIAN/control\"\nif [ -d \"$R/etc\" ]; then (cd \"$R\" && find etc -type f | sort | sed \"s|^|/|\") > \"$R/DEBIAN/conffiles\"; fi\n[ -s \"$R/DEBIAN/conffiles\" ] || rm -f \"$R/DEBIAN/conffiles\"\ndpkg-deb --root-owner-group --build \"$R\" /tmp/dalec/out/'bazel-hello_1.0.0-1_amd64.deb'\n"

const installSh = "#!/bin/sh\nset -e\nrm -f /etc/apt/apt.conf.d/docker-clean\napt-get update\napt-get install -y --no-install-recommends /tmp/dalec/pkg/*.deb\n"

func distroBase() llb.State {
	return llb.Image("docker.io/library/debian:bookworm", llb.Platform(ocispecs.Platform{OS: "linux", Architecture: "amd64"})).
		AddEnv("PATH", defaultPath).
		AddEnv("DEBIAN_FRONTEND", "noninteractive")
}

func aptMounts() []llb.RunOption {
	return []llb.RunOption{
		llb.AddMount("/var/cache/apt", llb.Scratch(), llb.AsPersistentCacheDir("debian12-linux/amd64-dalec-var-cache-apt", llb.CacheMountLocked)),
		llb.AddMount("/var/lib/apt", llb.Scratch(), llb.AsPersistentCacheDir("debian12-linux/amd64-dalec-var-lib-apt", llb.CacheMountLocked)),
	}
}

func run(st llb.State, opts ...llb.RunOption) llb.ExecState { return st.Run(opts...) }

func realistic() (llb.State, llb.State) {
	// worker: the distro image with the build dependencies installed
	depsFiles := llb.Scratch().File(
		llb.Mkfile("/deps.control", 0644, []byte(depsControl)).
			Mkfile("/install-deps.sh", 0755, []byte(installDeps)),
		llb.WithCustomName("build dependencies: scripts"))
	worker := run(distroBase(), append([]llb.RunOption{
		llb.Args([]string{scriptDir + "/install-deps.sh"}),
		llb.AddMount(scriptDir, depsFiles, llb.Readonly),
	}, append(aptMounts(), llb.WithCustomName("Install build dependencies: bazel-bootstrap"))...)...).Root()

	// the sources tree (one inline dir source) and the build op with the Bazel cache
	tree := llb.Scratch().File(
		llb.Mkdir("/src", 0755, llb.WithParents(true)).
			Mkfile("/src/BUILD", 0644, []byte(buildBUILD)).
			Mkfile("/src/WORKSPACE", 0644, []byte("workspace(name = \"bazel_hello\")\n")).
			Mkfile("/src/greeting.txt", 0644, []byte("Hello from a Bazel genrule!\n")),
		llb.WithCustomName("collect sources"))
	rc := llb.Scratch().File(llb.Mkfile("/bazelrc", 0644, []byte(bazelrc)), llb.WithCustomName("bazelrc"))
	buildFiles := llb.Scratch().File(llb.Mkfile("/build.sh", 0755, []byte(buildSh)), llb.WithCustomName("build script"))
	build := worker.Run(
		llb.Args([]string{scriptDir + "/build.sh"}),
		llb.Dir("/build"),
		llb.Network(llb.NetModeNone),
		llb.AddMount("/build", tree),
		llb.AddMount(scriptDir, buildFiles, llb.Readonly),
		llb.AddMount("/etc/bazel.bazelrc", rc, llb.SourcePath("bazelrc")),
		llb.AddSSHSocket(llb.SSHID("bazel-default"), llb.SSHSocketTarget("/tmp/dalec/bazel-remote.sock"), llb.SSHOptional),
		llb.AddMount("/tmp/dalec/bazel-local-cache", llb.Scratch(), llb.AsPersistentCacheDir("debian12-linux/amd64-dalec-bazelcache", llb.CacheMountShared)),
		llb.WithCustomName("Build bazel-hello (1 step)"),
	)
	built := build.GetMount("/build")

	// the package op
	pkgFiles := llb.Scratch().File(
		llb.Mkfile("/control", 0644, []byte(pkgControl)).
			Mkfile("/package.sh", 0755, []byte(packageSh)),
		llb.WithCustomName("package: control and script"))
	pkg := worker.Run(
		llb.Args([]string{scriptDir + "/package.sh"}),
		llb.Network(llb.NetModeNone),
		llb.AddMount("/build", built, llb.Readonly),
		llb.AddMount(scriptDir, pkgFiles, llb.Readonly),
		llb.AddMount("/tmp/dalec/out", llb.Scratch()),
		llb.WithCustomName("Package bazel-hello_1.0.0-1_amd64.deb"),
	).GetMount("/tmp/dalec/out")

	// the container: the distro image with the package installed
	installFiles := llb.Scratch().File(llb.Mkfile("/install.sh", 0755, []byte(installSh)),
		llb.WithCustomName("container: install script"))
	container := run(distroBase(), append([]llb.RunOption{
		llb.Args([]string{scriptDir + "/install.sh"}),
		llb.AddMount("/tmp/dalec/pkg", pkg, llb.Readonly),
		llb.AddMount(scriptDir, installFiles, llb.Readonly),
	}, append(aptMounts(), llb.WithCustomName("Install bazel-hello into docker.io/library/debian:bookworm"))...)...).Root()
	return pkg, container
}
