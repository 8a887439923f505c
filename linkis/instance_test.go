package linkis

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateAddress(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"localhost:9101", true},
		{"127.0.0.1:1", true},
		{"10.0.0.7:65535", true},
		{"[::1]:9101", true},
		{"[fe80::1%eth0]:80", true},
		{"ecm-1.cluster.local:9102", true},
		{strings.Repeat("h", 253) + ":80", true},

		{"", false},
		{"localhost", false},
		{"localhost:", false},
		{":9101", false},
		{"[]:9101", false},
		{"localhost:0", false},
		{"localhost:65536", false},
		{"localhost:-1", false},
		{"localhost:http", false},
		{"localhost: 80", false},
		{"localhost:80 ", false},
		{"local host:80", false},
		{"local\thost:80", false},
		{"local\x00host:80", false},
		{"local\x7fhost:80", false},
		{"::1:80", false},
		{"a:b:80", false},
		{"localhost:80:90", false},
		{strings.Repeat("h", 254) + ":80", false},
		{"localhost:99999999999999999999", false},
	} {
		err := ValidateAddress("instance", tc.addr)
		if tc.ok {
			if err != nil {
				t.Errorf("ValidateAddress(%q): %v", tc.addr, err)
			}
			continue
		}
		wantKind(t, "ValidateAddress("+tc.addr+")", err, ErrInvalidArgument)
		var e *Error
		if errors.As(err, &e) && (e.Field != "instance" || e.Value != tc.addr) {
			t.Errorf("ValidateAddress(%q) error field %q value %q, want the field and address", tc.addr, e.Field, e.Value)
		}
	}
}

func TestServiceInstance(t *testing.T) {
	for _, tc := range []struct {
		s     ServiceInstance
		field string // "" when valid
	}{
		{ServiceInstance{AppECM, "host1:9102"}, ""},
		{ServiceInstance{AppManager, "10.0.0.1:9101"}, ""},
		{ServiceInstance{AppEngineConn, "[::1]:40001"}, ""},
		{ServiceInstance{AppEntrance, "entrance:9104"}, ""},
		{ServiceInstance{"app_1.x", "h:1"}, ""},

		{ServiceInstance{"", "host1:9102"}, "applicationName"},
		{ServiceInstance{"linkis cg", "host1:9102"}, "applicationName"},
		{ServiceInstance{"linkis/cg", "host1:9102"}, "applicationName"},
		{ServiceInstance{"app@x", "host1:9102"}, "applicationName"},
		{ServiceInstance{strings.Repeat("a", 65), "host1:9102"}, "applicationName"},
		{ServiceInstance{"", ""}, "applicationName"},
		{ServiceInstance{AppECM, ""}, "instance"},
		{ServiceInstance{AppECM, "host1"}, "instance"},
		{ServiceInstance{AppECM, "host1:0"}, "instance"},
		{ServiceInstance{AppECM, "host 1:9102"}, "instance"},
	} {
		err := tc.s.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%+v.Validate(): %v", tc.s, err)
			}
			continue
		}
		wantKind(t, tc.s.String(), err, ErrInvalidArgument)
		var e *Error
		if errors.As(err, &e) && e.Field != tc.field {
			t.Errorf("%+v.Validate() error about %q, want %q", tc.s, e.Field, tc.field)
		}
	}
	if got := (ServiceInstance{AppECM, "host1:9102"}).String(); got != "linkis-cg-engineconnmanager/host1:9102" {
		t.Errorf("String() = %q", got)
	}
}
