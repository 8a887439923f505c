package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	cdpage "github.com/chromedp/cdproto/page"
	cdp "github.com/chromedp/chromedp"

	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
)

// The console in a real browser: Debian's Chromium, headless, driven
// through the DevTools protocol (chromedp). scripts/install-chromium.sh
// installs it (make test runs it when chromium is missing); without it the
// test fails.

// startBrowser starts a headless Chromium with a fresh profile and
// returns a tab's context; the browser is stopped (and waited for) when
// the test ends. Screenshots go to $LINKIS_SCREENSHOTS, else the test's
// temporary directory.
type tab struct {
	t       *testing.T
	ctx     context.Context
	base    string
	shots   string
	dialogs atomic.Int32
}

func startBrowser(t *testing.T, base string) *tab {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (scripts/install-chromium.sh installs it): %v", err)
	}
	opts := []cdp.ExecAllocatorOption{
		cdp.ExecPath(bin),
		cdp.Flag("headless", true),
		cdp.Flag("no-sandbox", true),
		cdp.Flag("disable-gpu", true),
		cdp.Flag("disable-background-networking", true),
		cdp.Flag("disable-component-update", true),
		cdp.Flag("disable-sync", true),
		cdp.Flag("no-first-run", true),
		cdp.Flag("no-default-browser-check", true),
		cdp.Flag("disable-dev-shm-usage", true),
		cdp.UserDataDir(t.TempDir()),
		cdp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := cdp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := cdp.NewContext(actx)
	tctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc() // kills the browser and waits for it
		if b := cdp.FromContext(ctx).Browser; b != nil {
			if p := b.Process(); p != nil && p.Signal(nil) == nil {
				t.Errorf("chromium (pid %d) still runs after the test", p.Pid)
			}
		}
	})
	if err := cdp.Do(tctx); err != nil {
		t.Fatalf("chromium cannot start: %v", err)
	}
	shots := os.Getenv("LINKIS_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(t.TempDir(), "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	tb := &tab{t: t, ctx: tctx, base: base, shots: shots}
	// Kill buttons ask first (window.confirm): say yes, from another
	// goroutine (the click waits for the dialog to close).
	dialogs := cdp.Events(tctx, cdpage.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			tb.dialogs.Add(1)
			_, _ = cdp.Call(tctx, cdpage.HandleJavaScriptDialog, cdpage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return tb
}

func (b *tab) do(steps ...cdp.Action[cdp.Void]) {
	b.t.Helper()
	if err := cdp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("on %s: %v", b.path(), err)
	}
}

func (b *tab) open(path string) {
	b.t.Helper()
	b.do(cdp.Navigate(b.base+path), cdp.WaitReady(cdp.CSS("body")))
}

func (b *tab) click(sel string) {
	b.t.Helper()
	b.do(cdp.Click(cdp.CSS(sel)))
}

// eval evaluates a script and returns its value.
func eval[T any](b *tab, js string) T {
	b.t.Helper()
	v, err := cdp.Run(b.ctx, cdp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
	return v
}

// textJS is a script giving the text of the first element sel selects
// ("" when none).
func textJS(sel string) string {
	return fmt.Sprintf(`(function(){var e=document.querySelector(%q); return e ? e.textContent : ""})()`, sel)
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	return eval[string](b, textJS(sel))
}

// waitJS waits until a script is true. A page being replaced (a reload,
// a form's answer) has no context to evaluate in for a moment: that is
// waited out, not an error.
func (b *tab) waitJS(cond string, within time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ok, err := cdp.Run(b.ctx, cdp.Evaluate[bool](cond)); err == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("on %s: %s stayed false", b.path(), cond)
}

func (b *tab) path() string {
	v, _ := cdp.Run(b.ctx, cdp.Evaluate[string](`location.pathname + location.search`))
	return v
}

// shot writes a screenshot of the whole page as NAME.png.
func (b *tab) shot(name string) {
	b.t.Helper()
	png, err := cdp.Run(b.ctx, cdp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// waitText waits until sel's text contains want.
func (b *tab) waitText(sel, want string, within time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	var got string
	for time.Now().Before(deadline) {
		if v, err := cdp.Run(b.ctx, cdp.Evaluate[string](textJS(sel))); err == nil {
			if got = v; strings.Contains(got, want) && b.loaded() {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("%s on %s: %q, want %q", sel, b.path(), got, want)
}

// loaded reports whether the page has loaded.
func (b *tab) loaded() bool {
	ok, err := cdp.Run(b.ctx, cdp.Evaluate[bool](`document.readyState === "complete"`))
	return err == nil && ok
}

// waitEnded waits for the page of an ended job - the server's, after the
// script reloaded the running job's page (it never marks a page final
// itself) - and checks its state.
func (b *tab) waitEnded(state string) {
	b.t.Helper()
	b.waitJS(`document.readyState === "complete" && document.getElementById("job").dataset.final === "true"`, 60*time.Second)
	if got := b.text("#state"); got != state {
		b.t.Fatalf("the job ended %q, want %q", got, state)
	}
}

func (b *tab) login(user string) {
	b.t.Helper()
	b.open("/login")
	b.do(cdp.SendKeys(cdp.CSS("#userName"), user), cdp.SendKeys(cdp.CSS("#password"), passwords[user]), cdp.Click(cdp.CSS("#login")))
	b.waitText("#user", user, 10*time.Second)
}

func (b *tab) logout() {
	b.t.Helper()
	b.click("form.who button")
	b.waitText("h1", "Log in", 10*time.Second)
}

// runJob submits code from the Run page and returns the job page's task
// id once the browser shows it.
func (b *tab) runJob(engine, code string) int64 {
	b.t.Helper()
	b.open("/run")
	b.do(cdp.SetValue(cdp.CSS("#engine"), engine), cdp.SetValue(cdp.CSS("#code-input"), code),
		cdp.Click(cdp.CSS("#submit")), cdp.WaitVisible(cdp.CSS("#job")))
	var id int64
	if _, err := fmt.Sscanf(b.path(), "/jobs/%d", &id); err != nil {
		b.t.Fatalf("after Run: at %s", b.path())
	}
	return id
}

func TestBrowser(t *testing.T) {
	s := startSystem(t)
	b := startBrowser(t, s.url)

	// Log in: the jobs page sends to the login form and back.
	b.open("/jobs")
	if p := b.path(); !strings.HasPrefix(p, "/login?next=") {
		t.Fatalf("without a session: at %s", p)
	}
	b.shot("login")
	b.login("alice")
	if r := b.text("#role"); r != "user" {
		t.Fatalf("alice's role: %q", r)
	}

	// Run a shell job from the Run page; its log arrives line by line on
	// the job page, without a reload.
	id := b.runJob("shell", `for i in 1 2 3 4 5 6 7 8; do echo "line $i"; sleep 0.3; done`)
	b.shot("job-running")
	eval[bool](b, `window.stayed = true`)
	seen := map[int]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := cdp.Run(b.ctx, cdp.Evaluate[struct {
			Lines  int
			Stayed bool
		}](`({Lines: Array.from(document.querySelectorAll("#log .line")).filter(function(e){return /^line \d$/.test(e.textContent)}).length, Stayed: window.stayed === true})`))
		if err != nil || !st.Stayed {
			break // the page reloaded: the job ended
		}
		seen[st.Lines] = true
		if time.Now().After(deadline) {
			t.Fatalf("the job did not end: %v", seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var partial int
	for n := range seen {
		if n > 0 && n < 8 {
			partial++
		}
	}
	if partial < 3 {
		t.Fatalf("the log did not arrive line by line: counts seen %v", seen)
	}
	b.waitEnded("Succeed")
	if j := s.job(t, id); j.State != orchestrator.Succeed || len(j.Results) != 1 {
		t.Fatalf("the job: %v, %d results", j.State, len(j.Results))
	}
	if n := strings.Count(b.text("#log"), "line "); n != 8 {
		t.Fatalf("the ended job's log has %d lines:\n%s", n, b.text("#log"))
	}
	b.shot("job-ended")

	// Its result table, and its download.
	b.do(cdp.Click(cdp.CSS("a.result-link")), cdp.WaitVisible(cdp.CSS("#result")))
	cells := eval[[]string](b, `Array.from(document.querySelectorAll("#result tbody td")).map(function(e){return e.textContent})`)
	if len(cells) != 8 || cells[0] != "line 1" || cells[7] != "line 8" {
		t.Fatalf("the result table: %q", cells)
	}
	b.shot("result")
	dl := t.TempDir()
	if _, err := cdp.CallBrowser(b.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl}); err != nil {
		t.Fatal(err)
	}
	b.click("#csv")
	csv := waitDownload(t, dl, ".csv")
	if !strings.Contains(csv, "line 1") || !strings.Contains(csv, "line 8") {
		t.Fatalf("the CSV download: %q", csv)
	}
	// (XLSX is for table results: TestResultDownloads.)

	// Kill a running job from its page.
	kid := b.runJob("shell", "echo started; sleep 60")
	b.waitText("#state", "Running", 30*time.Second)
	b.waitText("#log", "started", 30*time.Second)
	b.click("#kill")
	b.waitText("#notice", "The job was killed.", 10*time.Second)
	b.waitEnded("Cancelled")
	if b.dialogs.Load() == 0 {
		t.Fatal("the kill did not ask first")
	}
	if j := s.job(t, kid); j.State != orchestrator.Cancelled {
		t.Fatalf("the killed job is %v", j.State)
	}
	b.shot("job-killed")

	// Markup in code, log and result is shown as text and never runs.
	payload := `<script>document.title="pwned"</script><img src=x onerror="document.title='pwned'">`
	xid := b.runJob("shell", "echo '"+payload+"'")
	b.waitEnded("Succeed")
	checkInert := func(where string, sels ...string) {
		t.Helper()
		title := eval[string](b, `document.title`)
		injected := eval[int](b, `document.querySelectorAll("main script, main img").length`)
		if strings.Contains(title, "pwned") || injected != 0 {
			t.Fatalf("%s: the payload ran (title %q, %d injected elements)", where, title, injected)
		}
		for _, sel := range sels {
			if txt := b.text(sel); !strings.Contains(txt, `<script>document.title="pwned"</script>`) {
				t.Fatalf("%s: %s shows %q", where, sel, txt)
			}
		}
	}
	checkInert("the job page", "#code", "#log")
	b.shot("job-markup")
	b.open(fmt.Sprintf("/jobs/%d/results/1", xid))
	checkInert("the result page", "#result")
	b.open("/jobs")
	checkInert("the jobs page")
	b.shot("jobs")
	b.open("/resources")
	b.shot("resources")
	b.open("/settings")
	b.shot("settings")
	b.open("/cluster")
	b.shot("cluster")
	b.open("/engines")
	b.shot("engines-user")

	// A plain user is refused the administrator's page by the server.
	b.open("/ecms")
	if h := b.text("h1"); h != "Forbidden" || !strings.Contains(b.text("#error"), "only an administrator may list the ECMs") {
		t.Fatalf("/ecms as alice: %q %q", h, b.text("#error"))
	}
	b.shot("ecms-refused")
	b.logout()

	// The administrator kills an engine, drains the ECM and undrains it.
	b.login("ops")
	b.open("/resources")
	if !strings.Contains(b.text("#resource-ecms"), "ecm-embedded") || eval[int](b, `document.querySelectorAll("figure.chart svg").length`) != 3 {
		t.Fatal("the administrator's resources page lacks the ECMs or the charts")
	}
	b.shot("resources-admin")
	b.open("/engines")
	engine := eval[string](b, `(function(){var r=document.querySelector("tr[data-engine]"); return r ? r.dataset.engine : ""})()`)
	if engine == "" {
		t.Fatal("no engine listed for the administrator")
	}
	b.shot("engines")
	b.open("/engines/" + engine + "/log")
	b.shot("engine-log")
	b.open("/engines")
	before := b.dialogs.Load()
	b.click(fmt.Sprintf(`tr[data-engine=%q] button.kill-engine`, engine))
	b.waitText("#notice", "The engine was killed.", 10*time.Second)
	if b.dialogs.Load() == before {
		t.Fatal("the engine kill did not ask first")
	}
	b.shot("engine-killed")
	deadline = time.Now().Add(30 * time.Second)
	for engineLive(t, s, engine) {
		if time.Now().After(deadline) {
			t.Fatalf("engine %s still lives after its kill", engine)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.open("/ecms")
	b.shot("ecms")
	b.click(`tr[data-ecm="ecm-embedded"] button.drain`)
	b.waitText("#notice", "The ECM is drained", 10*time.Second)
	b.waitText(`tr[data-ecm="ecm-embedded"] .health`, "UnHealthy (drained)", 10*time.Second)
	b.shot("ecms-drained")
	b.click(`tr[data-ecm="ecm-embedded"] button.undrain`)
	b.waitText("#notice", "The ECM takes new engines again.", 10*time.Second)
	if h := b.text(`tr[data-ecm="ecm-embedded"] .health`); !strings.HasPrefix(strings.TrimSpace(h), "Healthy") {
		t.Fatalf("the undrained ECM: %q", h)
	}
	b.open("/run")
	b.shot("run")
	t.Logf("screenshots in %s", b.shots)
}

// waitDownload waits for a finished download ending in ext in dir and
// returns its contents.
func waitDownload(t *testing.T, dir, ext string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		es, _ := os.ReadDir(dir)
		for _, e := range es {
			if strings.HasSuffix(e.Name(), ext) {
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err == nil && len(b) > 0 {
					return string(b)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	es, _ := os.ReadDir(dir)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	t.Fatalf("no %s download in %s: %v", ext, dir, names)
	return ""
}

func engineLive(t *testing.T, s *system, ticket string) bool {
	t.Helper()
	eng, err := s.sys.Operator().Engines(context.Background(), adminCaller(), manager.EngineQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range eng.Items {
		if e.ID.String() == ticket {
			return true
		}
	}
	return false
}
