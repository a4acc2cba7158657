// Command kube measures Kubernetes mode at scale: -apps Argo CD
// Applications across -repos git repositories (local bare remotes), -images
// images each drawn from -pool image repositories on one in-process
// registry, on a real kube-apiserver (internal/testkube; make servers). It
// runs the tagwatch binary (`tagwatch run`, leader election on) and prints
// the time from its start to the first full cycle's pushes (every image
// moves: one commit per Application, one push per repository), the
// duration of idle cycles, the requests it sends the API server per idle
// cycle (through a counting proxy, by resource), and its peak RSS.
//
//	go run ./test/bench/kube -apps 500 -repos 10 -images 2 -pool 20
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tagwatch/tagwatch/internal/gitseed"
	"github.com/tagwatch/tagwatch/internal/testkube"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

func main() {
	apps := flag.Int("apps", 500, "Argo CD Applications")
	repos := flag.Int("repos", 10, "git repositories they are spread over")
	images := flag.Int("images", 2, "images per Application")
	pool := flag.Int("pool", 20, "image repositories in all")
	idle := flag.Int("idle", 3, "idle cycles measured after the first")
	interval := flag.Duration("interval", 5*time.Second, "the config's interval")
	flag.Parse()
	if err := run(*apps, *repos, *images, *pool, *idle, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "kube:", err)
		os.Exit(1)
	}
}

func run(apps, repos, images, pool, idle int, interval time.Duration) error {
	dir, err := os.MkdirTemp("", "tagwatch-bench-kube-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins, err := testkube.FindBinaries()
	if err != nil {
		return err
	}
	c, err := testkube.Run(bins, filepath.Join(dir, "cluster"))
	if err != nil {
		return err
	}
	defer c.Stop()
	ctx := context.Background()
	if err := c.ApplyApplicationCRD(ctx); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(c.AdminConfig())
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(c.AdminConfig())
	if err != nil {
		return err
	}
	for _, ns := range []string{"argocd", "tagwatch"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}

	reg := httptest.NewServer(testreg.NewHandler(testreg.Options{}))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	if err := pushPool(host, pool); err != nil {
		return err
	}
	urls, err := seedRepos(dir, host, apps, repos, images, pool)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := createApps(ctx, dyn, host, urls, apps, images, pool); err != nil {
		return err
	}
	fmt.Printf("setup: %d Applications in %d repositories, %d images each from %d repositories; created in %s\n",
		apps, repos, images, pool, time.Since(start).Round(time.Millisecond))

	proxy, err := newCountingProxy(c)
	if err != nil {
		return err
	}
	defer proxy.close()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["bench"] = &clientcmdapi.Cluster{Server: proxy.url}
	kc.AuthInfos["bench"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["bench"] = &clientcmdapi.Context{Cluster: "bench", AuthInfo: "bench"}
	kc.CurrentContext = "bench"
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "tagwatch.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`git: {author: {name: bench, email: bench@example.com}}
interval: %s
registries: [{prefix: %q, insecure: true}]
applications: {namespaces: [argocd], argocdNamespace: argocd}
leaderElection: {namespace: tagwatch}
`, interval, host)), 0o600); err != nil {
		return err
	}
	bin := filepath.Join(dir, "tagwatch")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tagwatch/tagwatch/cmd/tagwatch").CombinedOutput(); err != nil {
		return fmt.Errorf("building tagwatch: %v\n%s", err, out)
	}
	return measure(bin, cfg, kubeconfig, filepath.Join(dir, "cache"), proxy, apps, repos, idle)
}

// cycleLog is a "cycle done" log line of the daemon.
type cycleLog struct {
	Msg      string `json:"msg"`
	Duration string `json:"duration"`
	Changes  int    `json:"changes"`
	Commits  int    `json:"commits"`
	Errors   int    `json:"errors"`
}

func measure(bin, cfg, kubeconfig, cache string, proxy *countingProxy, apps, repos, idle int) error {
	cmd := exec.Command(bin, "run", "--config", cfg, "--kubeconfig", kubeconfig, "--cache-dir", cache, "--log-format", "json", "-o", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = io.Discard
	cycles := make(chan cycleLog, 16)
	var errLines []string
	var mu sync.Mutex
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l cycleLog
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "cycle done" {
				cycles <- l
			} else if strings.Contains(sc.Text(), `"level":"error"`) || strings.Contains(sc.Text(), `"level":"warning"`) {
				mu.Lock()
				errLines = append(errLines, sc.Text())
				mu.Unlock()
			}
		}
		close(cycles)
	}()
	next := func() (cycleLog, error) {
		select {
		case l, ok := <-cycles:
			if !ok {
				return l, fmt.Errorf("tagwatch ended")
			}
			return l, nil
		case <-time.After(10 * time.Minute):
			return cycleLog{}, fmt.Errorf("no cycle within 10 minutes")
		}
	}
	first, err := next()
	if err != nil {
		return err
	}
	proxy.reset()
	fmt.Printf("first full cycle: pushes done %s after start (the cycle itself %s): %d changes, %d commits, %d errors\n",
		time.Since(start).Round(time.Millisecond), first.Duration, first.Changes, first.Commits, first.Errors)
	if first.Commits != apps {
		mu.Lock()
		fmt.Printf("  warning: %d commits, want %d; logged:\n  %s\n", first.Commits, apps, strings.Join(errLines, "\n  "))
		mu.Unlock()
	}
	eventsFrom := time.Now()
	for last := -1; ; time.Sleep(time.Second) { // the first cycle's Events are recorded in the background
		if n := proxy.get("POST events"); n == last {
			fmt.Printf("the first cycle's Events (%d) recorded within %s of its end\n", n, time.Since(eventsFrom).Round(time.Second))
			break
		} else {
			last = n
		}
	}
	for len(cycles) > 0 {
		<-cycles
	}
	if _, err := next(); err != nil { // from the end of a cycle on
		return err
	}
	for i := 0; i < idle; i++ {
		proxy.reset()
		l, err := next()
		if err != nil {
			return err
		}
		fmt.Printf("idle cycle %d: %s, %d changes, %d errors; API server requests since the previous cycle ended: %s\n",
			i+1, l.Duration, l.Changes, l.Errors, proxy.summary())
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("tagwatch: %w", err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		fmt.Printf("peak RSS of tagwatch: %d MiB; CPU: user %s, system %s\n", ru.Maxrss/1024,
			time.Duration(ru.Utime.Nano()).Round(time.Millisecond), time.Duration(ru.Stime.Nano()).Round(time.Millisecond))
	}
	return nil
}

// pushPool pushes app-0 … app-(pool-1), tags 1.0.0 and 1.1.0 (one image).
func pushPool(host string, pool int) error {
	img, err := random.Image(256, 1)
	if err != nil {
		return err
	}
	for i := 0; i < pool; i++ {
		for _, tag := range []string{"1.0.0", "1.1.0"} {
			ref, err := name.NewTag(fmt.Sprintf("%s/team/app-%d:%s", host, i, tag), name.Insecure)
			if err != nil {
				return err
			}
			if err := remote.Write(ref, img); err != nil {
				return err
			}
		}
	}
	return nil
}

// imageOf is the j-th image of Application a.
func imageOf(host string, a, j, pool int) string {
	return fmt.Sprintf("%s/team/app-%d", host, (a+j)%pool)
}

// seedRepos makes the git repositories: Application a's folder apps/app-a
// in repository a mod repos, every image at 1.0.0.
func seedRepos(dir, host string, apps, repos, images, pool int) ([]string, error) {
	var urls []string
	for r := 0; r < repos; r++ {
		scratch := filepath.Join(dir, fmt.Sprintf("seed-%d", r))
		for a := r; a < apps; a += repos {
			var b strings.Builder
			b.WriteString("resources: []\nimages:\n")
			for j := 0; j < images; j++ {
				fmt.Fprintf(&b, "  - name: %s\n    newTag: 1.0.0\n", imageOf(host, a, j, pool))
			}
			p := filepath.Join(scratch, "apps", fmt.Sprintf("app-%d", a), "kustomization.yaml")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
				return nil, err
			}
		}
		bare := filepath.Join(dir, fmt.Sprintf("repo-%d.git", r))
		if err := gitseed.Init(bare, scratch, "seed", object.Signature{Name: "bench", Email: "bench@example.com"}); err != nil {
			return nil, err
		}
		urls = append(urls, "file://"+bare)
	}
	return urls, nil
}

// createApps creates the Applications, tagwatch.dev/ annotations (half)
// and Image Updater's (half, writing the kustomization), in parallel.
func createApps(ctx context.Context, dyn dynamic.Interface, host string, urls []string, apps, images, pool int) error {
	res := dyn.Resource(testkube.ApplicationResource).Namespace("argocd")
	sem := make(chan struct{}, 16)
	errs := make(chan error, apps)
	var wg sync.WaitGroup
	for a := 0; a < apps; a++ {
		ann := map[string]string{}
		var own, iu []string
		for j := 0; j < images; j++ {
			img := imageOf(host, a, j, pool)
			own = append(own, fmt.Sprintf("i%d=%s", j, img))
			iu = append(iu, fmt.Sprintf("i%d=%s", j, img))
		}
		if a%2 == 0 {
			ann["tagwatch.dev/images"] = strings.Join(own, ",")
		} else {
			ann["argocd-image-updater.argoproj.io/image-list"] = strings.Join(iu, ",")
			ann["argocd-image-updater.argoproj.io/write-back-target"] = "kustomization"
		}
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": fmt.Sprintf("app-%d", a), "namespace": "argocd"},
			"spec": map[string]any{"project": "default",
				"source":      map[string]any{"repoURL": urls[a%len(urls)], "path": fmt.Sprintf("apps/app-%d", a), "targetRevision": "main"},
				"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "default"}},
		}}
		u.SetAnnotations(ann)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := res.Create(ctx, u, metav1.CreateOptions{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// countingProxy forwards plain HTTP to the API server as the admin and
// counts the requests by verb and resource.
type countingProxy struct {
	url    string
	srv    *http.Server
	mu     sync.Mutex
	counts map[string]int
}

func newCountingProxy(c *testkube.Cluster) (*countingProxy, error) {
	target, err := url.Parse(c.Host)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CAData)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	rp.FlushInterval = -1 // watches stream
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p := &countingProxy{counts: map[string]int{}}
	p.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.count(r)
		r.Header.Set("Authorization", "Bearer "+c.AdminToken)
		rp.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = p.srv.Serve(ln) }()
	p.url = "http://" + ln.Addr().String()
	return p, nil
}

func (p *countingProxy) close() { _ = p.srv.Close() }

// count files a request as "VERB resource" (watch: a new watch stream).
func (p *countingProxy) count(r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	resource := "?"
	for i, s := range parts {
		if s == "namespaces" && i+2 < len(parts) {
			resource = parts[i+2]
		}
	}
	if resource == "?" && len(parts) > 0 {
		resource = parts[len(parts)-1]
	}
	verb := r.Method
	if r.URL.Query().Get("watch") == "true" {
		verb = "WATCH"
	}
	p.mu.Lock()
	p.counts[verb+" "+resource]++
	p.mu.Unlock()
}

func (p *countingProxy) get(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[key]
}

func (p *countingProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts = map[string]int{}
}

func (p *countingProxy) summary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	total := 0
	for k, n := range p.counts {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(parts)
	if total == 0 {
		return "none"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}
