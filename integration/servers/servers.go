package servers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Fixed test settings of the servers this package starts.
const (
	AccessKey = "lodetestaccess"
	SecretKey = "lodetestsecret0123456789"
	Region    = "us-east-1"
	Bucket    = "lode-test"
)

// Tool is a server binary and the `go install` argument that provides it.
type Tool struct {
	Name    string
	Install string
}

// S3Tool and GCSTool are the server binaries, pinned.
func S3Tool() Tool  { return Tool{"versitygw", "github.com/versity/versitygw/cmd/versitygw@v1.8.0"} }
func GCSTool() Tool { return Tool{"fake-gcs-server", "github.com/fsouza/fake-gcs-server@v1.56.1"} }

// Env describes running servers. Empty fields belong to a server that is
// not running.
type Env struct {
	S3Endpoint  string // "http://127.0.0.1:PORT"
	S3Region    string
	S3AccessKey string
	S3SecretKey string
	S3Bucket    string

	GCSHost   string // "127.0.0.1:PORT", as STORAGE_EMULATOR_HOST takes it
	GCSBucket string
}

// GCSEndpoint is the JSON API base URL of the GCS server, for
// option.WithEndpoint.
func (e Env) GCSEndpoint() string { return "http://" + e.GCSHost + "/storage/v1/" }

// Vars returns the environment variables that describe e, sorted, as
// KEY=VALUE. AWS_EC2_METADATA_DISABLED keeps the AWS SDK from looking for
// an EC2 instance role.
func (e Env) Vars() []string {
	m := e.varMap()
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Getenv looks key up in Vars, for helpers that take a getenv function.
func (e Env) Getenv(key string) string { return e.varMap()[key] }

func (e Env) varMap() map[string]string {
	m := map[string]string{}
	if e.S3Endpoint != "" {
		m["AWS_ENDPOINT_URL"] = e.S3Endpoint
		m["AWS_REGION"] = e.S3Region
		m["AWS_ACCESS_KEY_ID"] = e.S3AccessKey
		m["AWS_SECRET_ACCESS_KEY"] = e.S3SecretKey
		m["AWS_EC2_METADATA_DISABLED"] = "true"
		m["LODE_TEST_S3_BUCKET"] = e.S3Bucket
	}
	if e.GCSHost != "" {
		m["STORAGE_EMULATOR_HOST"] = e.GCSHost
		m["LODE_TEST_GCS_BUCKET"] = e.GCSBucket
	}
	return m
}

// envFromLookup returns the servers that getenv names, if any.
func envFromLookup(getenv func(string) string) Env {
	var e Env
	if ep, b := getenv("AWS_ENDPOINT_URL"), getenv("LODE_TEST_S3_BUCKET"); ep != "" && b != "" {
		e.S3Endpoint, e.S3Bucket = ep, b
		e.S3Region = getenv("AWS_REGION")
		if e.S3Region == "" {
			e.S3Region = Region
		}
		e.S3AccessKey, e.S3SecretKey = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	}
	if h, b := getenv("STORAGE_EMULATOR_HOST"), getenv("LODE_TEST_GCS_BUCKET"); h != "" && b != "" {
		e.GCSHost, e.GCSBucket = strings.TrimPrefix(h, "http://"), b
	}
	return e
}

// Options select what Launch starts.
type Options struct {
	// Dir holds the servers' data, logs and pid files. It must exist.
	Dir string
	// S3 and GCS select the servers.
	S3, GCS bool
	// Detach lets the servers outlive this process (for run.sh); they
	// are stopped with StopDir. Otherwise they die with this process (on
	// Linux) and Stop ends them.
	Detach bool
	// Binaries maps a tool name to its path; missing entries are looked
	// up with LookTool.
	Binaries map[string]string
}

// Servers are running server processes.
type Servers struct {
	dir   string
	env   Env
	procs []*proc
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait returns
}

// Env returns the addresses and credentials of the running servers.
func (s *Servers) Env() Env { return s.env }

// LookTool returns the path of a tool's binary: on PATH, else in GOBIN,
// else in GOPATH/bin.
func LookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var dirs []string
		if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
			dirs = append(dirs, strings.TrimSpace(lines[0]))
		}
		if len(lines) > 1 {
			for _, gp := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(gp, "bin"))
			}
		}
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s not found on PATH, in GOBIN or in GOPATH/bin", name)
}

// Launch starts the selected servers, waits until they answer, and creates
// their buckets. On error nothing it started is left running.
func Launch(ctx context.Context, opts Options) (_ *Servers, err error) {
	s := &Servers{dir: opts.Dir}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	bin := func(t Tool) (string, error) {
		if p := opts.Binaries[t.Name]; p != "" {
			return p, nil
		}
		p, err := LookTool(t.Name)
		if err != nil {
			return "", fmt.Errorf("%w; install it with: go install %s", err, t.Install)
		}
		return p, nil
	}
	if opts.S3 {
		path, err := bin(S3Tool())
		if err != nil {
			return nil, err
		}
		if err := s.startS3(ctx, path, opts.Detach); err != nil {
			return nil, err
		}
	}
	if opts.GCS {
		path, err := bin(GCSTool())
		if err != nil {
			return nil, err
		}
		if err := s.startGCS(ctx, path, opts.Detach); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Servers) startS3(ctx context.Context, bin string, detach bool) error {
	root := filepath.Join(s.dir, "s3-data")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	endpoint, err := s.startRetrying(ctx, "versitygw", detach, func(addr string) []string {
		return []string{bin, "--port", addr, "--access", AccessKey, "--secret", SecretKey,
			"--region", Region, "--quiet", "posix", root}
	}, func(addr string) string { return "http://" + addr + "/" })
	if err != nil {
		return err
	}
	s.env.S3Endpoint = strings.TrimSuffix(endpoint, "/")
	s.env.S3Region, s.env.S3AccessKey, s.env.S3SecretKey = Region, AccessKey, SecretKey
	s.env.S3Bucket = Bucket
	if err := CreateS3Bucket(ctx, s.env, Bucket); err != nil {
		return err
	}
	return nil
}

func (s *Servers) startGCS(ctx context.Context, bin string, detach bool) error {
	endpoint, err := s.startRetrying(ctx, "fake-gcs-server", detach, func(addr string) []string {
		host, port, _ := net.SplitHostPort(addr)
		return []string{bin, "-scheme", "http", "-host", host, "-port", port,
			"-backend", "memory", "-log-level", "warn",
			"-external-url", "http://" + addr, "-public-host", addr}
	}, func(addr string) string { return "http://" + addr + "/storage/v1/b" })
	if err != nil {
		return err
	}
	s.env.GCSHost = strings.TrimSuffix(strings.TrimPrefix(endpoint, "http://"), "/storage/v1/b")
	s.env.GCSBucket = Bucket
	return CreateGCSBucket(ctx, s.env, Bucket)
}

// startRetrying starts a server on a free port and waits until probe's
// URL answers; a server that exits first (the port was taken meanwhile)
// is started again on another port, up to three times. It returns the
// probe URL that answered.
func (s *Servers) startRetrying(ctx context.Context, name string, detach bool, argv func(addr string) []string, probe func(addr string) string) (string, error) {
	var lastErr error
	for range 3 {
		addr, err := freeAddr()
		if err != nil {
			return "", err
		}
		p, err := s.spawn(name, argv(addr), detach)
		if err != nil {
			return "", err
		}
		url := probe(addr)
		if err = waitReady(ctx, p, url); err == nil {
			return url, nil
		}
		lastErr = err
		s.stopProc(p)
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("start %s: %w", name, lastErr)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

func (s *Servers) spawn(name string, argv []string, detach bool) (*proc, error) {
	logf, err := os.OpenFile(filepath.Join(s.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// A small, fixed environment: the servers read settings from
	// variables (VGW_*, ROOT_ACCESS_KEY_ID, GOOGLE_*) that must not leak
	// in from the developer's shell.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir, "TMPDIR=" + s.dir}
	cmd.SysProcAttr = sysProcAttr(detach)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	s.procs = append(s.procs, p)
	if detach {
		pidFile := filepath.Join(s.dir, name+".pid")
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
			return p, err
		}
	}
	return p, nil
}

// waitReady polls url until it gives any HTTP answer, p exits, or 30 s
// pass.
func waitReady(ctx context.Context, p *proc, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before answering (%v); its log:\n%s", p.name, p.cmd.ProcessState, logTail(p))
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer at %s: %w; its log:\n%s", p.name, url, ctx.Err(), logTail(p))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func logTail(p *proc) string {
	data, _ := os.ReadFile(filepath.Join(p.cmd.Dir, p.name+".log"))
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return string(data)
}

// Stop ends the servers (SIGTERM, then SIGKILL after 5 s) and waits for
// them. It does not remove Dir.
func (s *Servers) Stop() error {
	for _, p := range s.procs {
		s.stopProc(p)
	}
	s.procs = nil
	return nil
}

func (s *Servers) stopProc(p *proc) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	_ = os.Remove(filepath.Join(s.dir, p.name+".pid"))
}

// CreateS3Bucket creates bucket on the S3 server of e; an existing bucket
// is fine.
func CreateS3Bucket(ctx context.Context, e Env, bucket string) error {
	client := awss3.NewFromConfig(aws.Config{
		Region:       e.S3Region,
		BaseEndpoint: aws.String(e.S3Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(e.S3AccessKey, e.S3SecretKey, ""),
	}, func(o *awss3.Options) { o.UsePathStyle = true })
	_, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)})
	var api smithy.APIError
	if errors.As(err, &api) && (api.ErrorCode() == "BucketAlreadyOwnedByYou" || api.ErrorCode() == "BucketAlreadyExists") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create S3 bucket %s at %s: %w", bucket, e.S3Endpoint, err)
	}
	return nil
}

// CreateGCSBucket creates bucket on the GCS server of e; an existing
// bucket is fine.
func CreateGCSBucket(ctx context.Context, e Env, bucket string) error {
	body := fmt.Sprintf(`{"name":%q}`, bucket)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.GCSEndpoint()+"b?project=lode-test", bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("create GCS bucket %s at %s: %w", bucket, e.GCSHost, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusConflict {
		return fmt.Errorf("create GCS bucket %s at %s: %s: %s", bucket, e.GCSHost, resp.Status, msg)
	}
	return nil
}
