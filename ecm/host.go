package ecm

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// DefaultInstances is how many engines an ECM offers when its capacity is
// detected (Linkis: 50).
const DefaultInstances = 50

// meminfo returns MemTotal and MemAvailable in bytes (0, 0 when unknown).
func meminfo() (total, avail int64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "MemTotal:":
			total = v * 1024
		case "MemAvailable:":
			avail = v * 1024
		}
	}
	return total, avail
}

// DetectCapacity returns the host's memory and cores, and DefaultInstances.
func DetectCapacity() linkis.Resource {
	total, _ := meminfo()
	if total <= 0 {
		total = 4 * linkis.GiB
	}
	return linkis.Resource{Memory: total, MilliCores: int64(runtime.NumCPU()) * 1000, Instances: DefaultInstances}
}

// hostLoad reports the host's memory and CPU load and the engines this ECM
// runs, with a health: WARN below 5% of memory available, else Healthy.
func hostLoad(engines int) (api.Load, linkis.NodeHealth) {
	total, avail := meminfo()
	l := api.Load{MaxMemory: total, FreeMemory: avail, RunningTasks: int64(engines)}
	if total > avail {
		l.UsedMemory = total - avail
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil && v >= 0 {
				l.CPUPermille = min(int64(v/float64(runtime.NumCPU())*1000), 1000)
			}
		}
	}
	h := linkis.HealthHealthy
	if total > 0 && avail*20 < total {
		h = linkis.HealthWarn
	}
	return l, h
}
