package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/ringbench/ringbench/internal/testsupport"
)

// The realistic fixtures (made by internal/report/fixture_test.go) live in internal/report/testdata.
var reportFixtures = filepath.Join("..", "..", "internal", "report", "testdata")

func fixturePath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(reportFixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkReportDir asserts that out holds index.html and, for every chart, a PNG that decodes at the
// expected height (and at least the expected width) and an SVG that parses. It returns the chart names.
func checkReportDir(t *testing.T, out string, minW, h int) []string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(out, "index.html")); err != nil {
		t.Fatal(err)
	}
	pngs, _ := filepath.Glob(filepath.Join(out, "*.png"))
	sort.Strings(pngs)
	if len(pngs) == 0 {
		t.Fatalf("no charts in %s", out)
	}
	var names []string
	for _, p := range pngs {
		name := strings.TrimSuffix(filepath.Base(p), ".png")
		names = append(names, name)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		f, _ = os.Open(p)
		_, err = png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if cfg.Height != h || cfg.Width < minW {
			t.Errorf("%s is %dx%d, want height %d and width >= %d", p, cfg.Width, cfg.Height, h, minW)
		}
		svg, err := os.ReadFile(filepath.Join(out, name+".svg"))
		if err != nil {
			t.Errorf("chart %s has no SVG: %v", name, err)
			continue
		}
		if _, err := testsupport.SVGElements(svg); err != nil {
			t.Errorf("%s.svg: %v", name, err)
		}
	}
	svgs, _ := filepath.Glob(filepath.Join(out, "*.svg"))
	if len(svgs) != len(pngs) {
		t.Errorf("%d SVGs for %d PNGs", len(svgs), len(pngs))
	}
	return names
}

func TestReportFromFixtures(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	// Flags after the files, as the usage line shows them.
	r := runRingbench(t, dir, 60*time.Second, "report", fixturePath(t, "kernel-6.1-kvm.json"),
		fixturePath(t, "kernel-6.12-kvm.json"), "--out", out)
	if r.Code != 0 || !strings.Contains(r.Stdout, "index.html") {
		t.Fatalf("report: %+v", r)
	}
	names := checkReportDir(t, out, 800, 450)
	for _, want := range []string{"throughput-small-file", "latency-small-file", "syscalls-small-file", "cpu-small-file",
		"memory-echo-proxy", "latency-echo-proxy-conns-16"} {
		if !containsName(names, want) {
			t.Errorf("no chart %s in %v", want, names)
		}
	}
	page, _ := os.ReadFile(filepath.Join(out, "index.html"))
	if !bytes.Contains(page, []byte("6.12.38")) || !bytes.Contains(page, []byte(`class="differs`)) {
		t.Errorf("index.html must show both kernels' environments with differences highlighted")
	}

	// Flags before the files, another size.
	out2 := filepath.Join(dir, "out2")
	r = runRingbench(t, dir, 60*time.Second, "report", "-o", out2, "--width", "640", "--height", "360",
		fixturePath(t, "kernel-6.1-tcg.json"))
	if r.Code != 0 {
		t.Fatalf("report: %+v", r)
	}
	checkReportDir(t, out2, 640, 360)
}

func containsName(names []string, want string) bool {
	for _, n := range names {
		if n == want {
			return true
		}
	}
	return false
}

func TestReportRejectsBadFilesWithOneLine(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"corrupt.json": `{"schema": "ringbench/result", "version": 1, "samples": [{"backend": `,
		"foreign.json": `{"fio version": "fio-3.33", "jobs": []}`,
		"newer.json":   `{"schema": "ringbench/result", "version": 7, "samples": []}`,
		"empty.json":   ``,
	}
	want := map[string]string{
		"corrupt.json": "not JSON", "foreign.json": "not a ringbench result", "newer.json": "newer", "empty.json": "empty",
	}
	for name, content := range files {
		writeFile(t, dir, name, content)
	}
	good := fixturePath(t, "kernel-6.1-tcg.json")
	for name := range files {
		t.Run(name, func(t *testing.T) {
			r := runRingbench(t, dir, 30*time.Second, "report", good, name, "--out", filepath.Join(t.TempDir(), "o"))
			assertUsageError(t, r, name)
			assertUsageError(t, r, want[name])
		})
	}
	r := runRingbench(t, dir, 30*time.Second, "report", "missing.json", "--out", filepath.Join(dir, "o"))
	assertUsageError(t, r, "missing.json: no such file")
	assertUsageError(t, runRingbench(t, dir, 30*time.Second, "report"), "at least one result file")
	assertUsageError(t, runRingbench(t, dir, 30*time.Second, "report", good, "--no-such-flag"), "--no-such-flag")
	assertUsageError(t, runRingbench(t, dir, 30*time.Second, "report", good, "--width", "10"), "--width 10")
	if _, err := os.Stat(filepath.Join(dir, "o")); err == nil {
		t.Errorf("a refused report must not create --out")
	}
}

func TestReportRefusesNonEmptyOutWithoutForce(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, out, "index.html", "my own page")
	good := fixturePath(t, "kernel-6.1-tcg.json")
	assertUsageError(t, runRingbench(t, dir, 30*time.Second, "report", good, "--out", out), "--force")
	if b, _ := os.ReadFile(filepath.Join(out, "index.html")); string(b) != "my own page" {
		t.Fatalf("index.html overwritten without --force")
	}
	if r := runRingbench(t, dir, 60*time.Second, "report", good, "--out", out, "--force"); r.Code != 0 {
		t.Fatalf("--force: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "index.html")); !bytes.Contains(b, []byte("<svg")) {
		t.Fatalf("--force did not write the report")
	}
	assertUsageError(t, runRingbench(t, dir, 30*time.Second, "report", good, "--out", good), "not a directory")
}

// TestReportRealRun reports a result file made by a real short run of `ringbench run`.
func TestReportRealRun(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "r.json")
	r := runRingbench(t, dir, 90*time.Second, "run", "--backend", "epoll,uring", "--workload", "small-file",
		"--duration", "300ms", "--warmup", "0", "--count", "2", "--file-size", "32M", "--dir", dir, "--quiet",
		"--out", res)
	if r.Code == exitUnsupported {
		t.Skipf("io_uring cannot run here: %s", strings.TrimSpace(r.Stderr))
	}
	if r.Code != 0 {
		t.Fatalf("ringbench run: %+v", r)
	}
	out := filepath.Join(dir, "report")
	r = runRingbench(t, dir, 60*time.Second, "report", res, "--out", out)
	if r.Code != 0 {
		t.Fatalf("report: %+v", r)
	}
	names := checkReportDir(t, out, 800, 450)
	for _, want := range []string{"throughput-small-file", "latency-small-file", "syscalls-small-file", "cpu-small-file"} {
		if !containsName(names, want) {
			t.Errorf("no chart %s in %v", want, names)
		}
	}
	page, _ := os.ReadFile(filepath.Join(out, "index.html"))
	for _, want := range []string{"few-samples", "pread64", "io_uring_enter"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("index.html lacks %q", want)
		}
	}
}

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

type renderedChart struct {
	ID    string  `json:"id"`
	W     float64 `json:"w"`
	H     float64 `json:"h"`
	Texts int     `json:"texts"`
}

// TestReportBrowser loads index.html from file:// in headless Chromium and checks that every chart
// renders with a size and that the page logs no error; it takes a full-page screenshot (kept only where
// $RINGBENCH_SCREENSHOT says).
func TestReportBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is required under CI (apt-get install chromium fonts-liberation): %v", err)
		}
		t.Skipf("chromium is not installed at %s (apt-get install chromium fonts-liberation); under CI this fails", chromiumPath)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	r := runRingbench(t, dir, 60*time.Second, "report", fixturePath(t, "kernel-6.1-kvm.json"),
		fixturePath(t, "kernel-6.12-kvm.json"), fixturePath(t, "kernel-6.1-tcg.json"), "--out", out)
	if r.Code != 0 {
		t.Fatalf("report: %+v", r)
	}
	charts := checkReportDir(t, out, 800, 450)

	// The profile and chromium's own temporary files go into the test's directory, removed after the
	// browser has exited (the cancels below run first), so that the test leaves nothing in $TMPDIR.
	profile, chromeTmp := filepath.Join(dir, "chromium-profile"), filepath.Join(dir, "chromium-tmp")
	for _, d := range []string{profile, chromeTmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.Env("TMPDIR="+chromeTmp),
		chromedp.WindowSize(1400, 1000),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	timeout := time.AfterFunc(60*time.Second, cancel) // the first Run must not carry a deadline
	defer timeout.Stop()

	var mu sync.Mutex
	var msgs []chromedp.ConsoleMessage
	var wg sync.WaitGroup
	messages := chromedp.Console(ctx) // starts the browser and subscribes before the page loads
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
		}
	}()

	index := "file://" + filepath.Join(out, "index.html")
	if err := chromedp.Do(ctx, chromedp.Navigate(index)); err != nil {
		t.Fatalf("loading %s: %v", index, err)
	}
	rendered, err := chromedp.Run(ctx, chromedp.Evaluate[[]renderedChart](`Array.from(document.querySelectorAll("figure.chart")).map(f => {
		const s = f.querySelector("svg");
		const r = s ? s.getBoundingClientRect() : {width: 0, height: 0};
		return {id: f.id, w: r.width, h: r.height, texts: s ? s.querySelectorAll("text").length : 0};
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rendered) != len(charts) {
		t.Errorf("page shows %d charts, %d were written", len(rendered), len(charts))
	}
	for _, c := range rendered {
		if c.W <= 0 || c.H <= 0 || c.Texts == 0 {
			t.Errorf("chart %s rendered %.0fx%.0f with %d texts", c.ID, c.W, c.H, c.Texts)
		}
	}
	liberation, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.fonts.check('12px "Liberation Sans"')`))
	if err != nil {
		t.Fatal(err)
	}
	if !liberation {
		msg := "Liberation Sans is not installed: the browser falls back to a metric-compatible font (apt-get install fonts-liberation)"
		if os.Getenv("CI") != "" {
			t.Error(msg)
		} else {
			t.Log(msg)
		}
	}
	// Open the raw figures so that the screenshot shows them too.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("details").forEach(d => d.open = true), document.querySelectorAll("details").length`)); err != nil {
		t.Fatal(err)
	}
	// The whole page, clipped to its measured size: a capture without a clip can stop short of the end.
	size, err := chromedp.Run(ctx, chromedp.Evaluate[[2]float64](`[document.documentElement.scrollWidth, document.documentElement.scrollHeight]`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		yes := true
		r, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng, CaptureBeyondViewport: &yes, FromSurface: &yes,
			Clip: &page.Viewport{Width: size[0], Height: size[1], Scale: 1},
		})
		return r.Data, err
	})
	if err != nil {
		t.Fatal(err)
	}
	shotPath := os.Getenv("RINGBENCH_SCREENSHOT")
	if shotPath == "" {
		shotPath = filepath.Join(dir, "ringbench-report-screenshot.png") // set RINGBENCH_SCREENSHOT to keep it
	}
	if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d KB)", shotPath, len(shot)>>10)
	if img, err := png.DecodeConfig(bytes.NewReader(shot)); err != nil || img.Width < 1000 || float64(img.Height) < size[1]-1 {
		t.Errorf("screenshot %dx%d of a %.0fx%.0f page: %v", img.Width, img.Height, size[0], size[1], err)
	}

	time.Sleep(200 * time.Millisecond) // let late console messages arrive
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, m := range msgs {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			t.Errorf("console %s (%s:%d)", m, m.URL, m.Line+1)
		}
	}
}
