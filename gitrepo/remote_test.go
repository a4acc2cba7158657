package gitrepo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/google/go-cmp/cmp"
)

// TestSSHConfigAlias: a host alias in $HOME/.ssh/config (or the system
// file) decides where go-git dials, and so the name the host key must have
// in known_hosts.
func TestSSHConfigAlias(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	userConfig := filepath.Join(home, ".ssh", "config")
	writeConfig := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(userConfig, "Host tagwatch-test-git\n  HostName 127.0.0.1\n  Port 2222\n"+
		"Host named-only\n  HostName git.internal.example\n"+
		"Host port-only\n  Port 2200\n")
	systemConfig := filepath.Join(t.TempDir(), "ssh_config")
	writeConfig(systemConfig, "Host sys-alias\n  HostName 10.0.0.1\n  Port 2022\n")
	files := sshConfigFiles{system: systemConfig}

	for raw, want := range map[string]string{
		"git@tagwatch-test-git:team/deploy.git":       "[127.0.0.1]:2222",
		"ssh://git@tagwatch-test-git/team/deploy.git": "[127.0.0.1]:2222",
		"git@named-only:x.git":                        "git.internal.example",
		"git@port-only:x.git":                         "port-only", // go-git applies Port only with a HostName
		"git@sys-alias:x.git":                         "[10.0.0.1]:2022",
		"ssh://git@git.example.com:2200/x.git":        "[git.example.com]:2200",
		"git@github.com:team/deploy.git":              "github.com",
	} {
		ep, err := parseEndpoint(raw, &Auth{})
		if err != nil {
			t.Fatal(err)
		}
		addr, err := files.dialAddress(ep.host)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if got := knownHostsName(addr); got != want {
			t.Errorf("%s: dials %s, known_hosts name %q; want %q", raw, addr, got, want)
		}
	}
	// go-git itself reads the same files, once the program opts in.
	UseHomeSSHConfig()
	if got := gitssh.DefaultSSHConfig.Get("tagwatch-test-git", "Port"); got != "2222" {
		t.Errorf("go-git sees Port %q for the alias, want 2222 from $HOME/.ssh/config", got)
	}

	// The host key algorithms offered are those known_hosts holds for the
	// resolved address, not for the alias.
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	writeConfig(kh, "[127.0.0.1]:2222 "+string(pub))
	a := Auth{SSHKeyFile: key, KnownHostsFile: kh}
	ep, err := parseEndpoint("git@tagwatch-test-git:team/deploy.git", &a)
	if err != nil {
		t.Fatal(err)
	}
	ep.ssh = files
	am, err := ep.authMethod(a)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ssh-ed25519"}, am.(*gitssh.PublicKeys).HostKeyAlgorithms); diff != "" {
		t.Errorf("host key algorithms (-want +got):\n%s", diff)
	}

	// A config go-git cannot read is an error naming the file, not a
	// silent dial to the alias.
	writeConfig(userConfig, "Match host tagwatch-test-git\n  Port 2222\n")
	if _, err := ep.authMethod(a); err == nil || !strings.Contains(err.Error(), userConfig) {
		t.Errorf("unreadable ssh config: error %v, want one naming %s", err, userConfig)
	}
}
