package linkis

import (
	"net"
	"strconv"
)

// Application names of the services, as Linkis names them.
const (
	AppManager    = "linkis-cg-linkismanager"
	AppECM        = "linkis-cg-engineconnmanager"
	AppEngineConn = "linkis-cg-engineconn"
	AppEntrance   = "linkis-cg-entrance"
)

// ServiceInstance names one running service: its application and its
// "host:port" address.
type ServiceInstance struct {
	ApplicationName string
	Instance        string // host:port
}

func (s ServiceInstance) String() string { return s.ApplicationName + "/" + s.Instance }

// MaxAddressLen bounds a "host:port" address: a 253-byte host, brackets
// for IPv6, a colon and five digits.
const MaxAddressLen = 253 + 2 + 1 + 5

// ValidateAddress checks a "host:port" address: a non-empty host of at most
// 253 bytes without spaces and a port from 1 to 65535 written in at most 5
// digits.
func ValidateAddress(field, addr string) error {
	if len(addr) > MaxAddressLen {
		return ValueError(ErrInvalidArgument, field, addr, "longer than 261 bytes")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ValueError(ErrInvalidArgument, field, addr, "must be host:port")
	}
	if host == "" || len(host) > 253 {
		return ValueError(ErrInvalidArgument, field, addr, "host must be 1-253 bytes")
	}
	for i := 0; i < len(host); i++ {
		if host[i] <= ' ' || host[i] == 0x7f {
			return ValueError(ErrInvalidArgument, field, addr, "host contains a space or control character")
		}
	}
	p, err := strconv.Atoi(port)
	if err != nil || len(port) > 5 || p < 1 || p > 65535 {
		return ValueError(ErrInvalidArgument, field, addr, "port must be 1-65535")
	}
	return nil
}

// Validate checks the application name and the address.
func (s ServiceInstance) Validate() error {
	if !isName(s.ApplicationName, 64, true) {
		return ValueError(ErrInvalidArgument, "applicationName", s.ApplicationName, "must be 1-64 letters, digits, '_', '.' or '-'")
	}
	return ValidateAddress("instance", s.Instance)
}
