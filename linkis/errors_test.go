package linkis

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{ValueError(ErrInvalidLabel, "engineType", "spark", "must be type-version"), `invalid label: engineType "spark": must be type-version`},
		{Errorf(ErrMissingLabel, "userCreator", "must carry %s", "userCreator"), "missing label: userCreator: must carry userCreator"},
		{Errorf(ErrQueueFull, "", "%d waiting", 1000), "queue full: 1000 waiting"},
		{&Error{Kind: ErrTimeout}, "timeout"},
		{&Error{Kind: ErrTimeout, Field: "lock"}, "timeout: lock"},
		{&Error{Kind: ErrTimeout, Value: "5m"}, `timeout "5m"`},
		{ValueError(ErrInvalidLabel, "k", `a"b`, "quote"), `invalid label: k "a\"b": quote`},
		{ValueError(ErrInvalidLabel, "k", "a\nb", "newline"), `invalid label: k "a\nb": newline`},
		{ValueError(ErrInvalidLabel, "k", "a\xffb", "bad utf8"), `invalid label: k "a\xffb": bad utf8`},
		{ValueError(ErrInvalidLabel, "k", strings.Repeat("v", 64), "long"), `invalid label: k "` + strings.Repeat("v", 64) + `": long`},
		{ValueError(ErrInvalidLabel, "k", strings.Repeat("v", 300), "long"), `invalid label: k "` + strings.Repeat("v", 64) + `...": long`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %s\nwant      %s", got, tc.want)
		}
	}
}

func TestErrorsIs(t *testing.T) {
	base := ValueError(ErrInvalidLabel, "engineType", "spark", "bad")
	wrapped := fmt.Errorf("ask a1: %w", base)
	twice := fmt.Errorf("submit: %w", wrapped)
	for _, err := range []error{base, wrapped, twice} {
		if !errors.Is(err, ErrInvalidLabel) {
			t.Errorf("errors.Is(%q, ErrInvalidLabel) = false", err)
		}
		for _, other := range []error{ErrMissingLabel, ErrInvalidArgument, ErrInvalidResource, ErrTimeout} {
			if errors.Is(err, other) {
				t.Errorf("errors.Is(%q, %v) = true", err, other)
			}
		}
		var e *Error
		if !errors.As(err, &e) || e != base {
			t.Errorf("errors.As(%q) did not find the *Error", err)
		}
	}
	if !strings.Contains(twice.Error(), `engineType "spark"`) {
		t.Errorf("wrapped message lost the detail: %q", twice)
	}
	if base.Unwrap() != ErrInvalidLabel {
		t.Errorf("Unwrap() = %v", base.Unwrap())
	}
}

func TestSentinelsDistinct(t *testing.T) {
	all := []error{
		ErrInvalidArgument, ErrInvalidLabel, ErrMissingLabel, ErrInvalidResource, ErrResourceOverflow,
		ErrInsufficientResource, ErrQuotaExceeded, ErrNoNodeAvailable, ErrEngineBusy, ErrQueueFull,
		ErrTimeout, ErrEngineFailed, ErrIllegalTransition, ErrUnknownNode, ErrUnknownAsk, ErrUnknownJob,
		ErrUnknownEngineType, ErrDuplicate, ErrLockMismatch, ErrMalformed, ErrUnknownCommand, ErrPermission,
	}
	msgs := map[string]bool{}
	for i, a := range all {
		if msgs[a.Error()] {
			t.Errorf("two sentinels read %q", a.Error())
		}
		msgs[a.Error()] = true
		for j, b := range all {
			if i != j && errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = true", a, b)
			}
		}
	}
}

func TestIsRetryable(t *testing.T) {
	retryable := []error{ErrInsufficientResource, ErrQuotaExceeded, ErrNoNodeAvailable, ErrEngineBusy, ErrQueueFull, ErrTimeout}
	notRetryable := []error{
		ErrInvalidArgument, ErrInvalidLabel, ErrMissingLabel, ErrInvalidResource, ErrResourceOverflow,
		ErrEngineFailed, ErrIllegalTransition, ErrUnknownNode, ErrUnknownAsk, ErrUnknownJob, ErrUnknownEngineType,
		ErrDuplicate, ErrLockMismatch, ErrMalformed, ErrUnknownCommand, ErrPermission,
	}
	forms := func(kind error) map[string]error {
		typed := Errorf(kind, "ask", "reason")
		return map[string]error{
			"bare":                  kind,
			"wrapped":               fmt.Errorf("ctx: %w", kind),
			"wrapped twice":         fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", kind)),
			"*Error":                typed,
			"wrapped *Error":        fmt.Errorf("ctx: %w", typed),
			"joined":                errors.Join(errors.New("other"), kind),
			"ValueError":            ValueError(kind, "f", "v", "r"),
			"wrapped twice *Error":  fmt.Errorf("a: %w", fmt.Errorf("b: %w", typed)),
			"*Error as plain error": error(typed),
		}
	}
	for _, kind := range retryable {
		for form, err := range forms(kind) {
			if !IsRetryable(err) {
				t.Errorf("IsRetryable(%s %v) = false, want true", form, kind)
			}
		}
	}
	for _, kind := range notRetryable {
		for form, err := range forms(kind) {
			if IsRetryable(err) {
				t.Errorf("IsRetryable(%s %v) = true, want false", form, kind)
			}
		}
	}
	if IsRetryable(nil) {
		t.Error("IsRetryable(nil) = true")
	}
	if IsRetryable(errors.New("timeout")) {
		t.Error("an unrelated error with the same text is retryable")
	}
	// An error of another package that says it is retryable (a member of
	// the cluster that could not be reached) is, wrapped or not.
	if err := fmt.Errorf("ctx: %w", sayRetryable(true)); !IsRetryable(err) {
		t.Error("IsRetryable of an error whose Retryable() is true = false")
	}
	if IsRetryable(sayRetryable(false)) {
		t.Error("IsRetryable of an error whose Retryable() is false = true")
	}
}

type sayRetryable bool

func (s sayRetryable) Error() string   { return "unreachable" }
func (s sayRetryable) Retryable() bool { return bool(s) }

func TestRetryOverride(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name string
		err  *Error
		want bool
	}{
		{"engine failed, no override", &Error{Kind: ErrEngineFailed}, false},
		{"engine failed, retry", &Error{Kind: ErrEngineFailed, Retry: &yes}, true},
		{"engine failed, no retry", &Error{Kind: ErrEngineFailed, Retry: &no}, false},
		{"timeout, overridden off", &Error{Kind: ErrTimeout, Retry: &no}, false},
		{"queue full, overridden off", &Error{Kind: ErrQueueFull, Retry: &no}, false},
		{"invalid label, overridden on", &Error{Kind: ErrInvalidLabel, Retry: &yes}, true},
	} {
		if got := tc.err.Retryable(); got != tc.want {
			t.Errorf("%s: Retryable() = %v, want %v", tc.name, got, tc.want)
		}
		if got := IsRetryable(tc.err); got != tc.want {
			t.Errorf("%s: IsRetryable = %v, want %v", tc.name, got, tc.want)
		}
		if got := IsRetryable(fmt.Errorf("wrapped: %w", tc.err)); got != tc.want {
			t.Errorf("%s: IsRetryable(wrapped) = %v, want %v", tc.name, got, tc.want)
		}
		if !errors.Is(tc.err, tc.err.Kind) {
			t.Errorf("%s: override broke errors.Is", tc.name)
		}
	}
}
