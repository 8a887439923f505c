package linkis_test

import (
	"errors"
	"fmt"

	"github.com/golinkis/golinkis/linkis"
)

func ExampleParseEngineRequest() {
	ls, err := linkis.ParseLabels(map[string]string{
		linkis.LabelUserCreator: "hadoop-IDE",
		linkis.LabelEngineType:  "spark-2.4.3",
		linkis.LabelTenant:      "team1",
	})
	if err != nil {
		panic(err)
	}
	r, err := linkis.ParseEngineRequest(ls)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.EngineType.Type, r.EngineType.Version)
	fmt.Println(linkis.CombinedLabelKey(r.Tenant), r.Key())

	_, err = linkis.ParseEngineRequest(ls[:1]) // engineType only
	fmt.Println(errors.Is(err, linkis.ErrMissingLabel), err)
	// Output:
	// spark 2.4.3
	// combined_userCreator_engineType_tenant hadoop-IDE,spark-2.4.3,team1
	// true missing label: userCreator: every engine request must carry userCreator (user-creator)
}

func ExampleResource_Sub() {
	mem, _ := linkis.ParseMemory("20g")
	cores, _ := linkis.ParseCores("10")
	left := linkis.Resource{Memory: mem, MilliCores: cores, Instances: 10}
	ask := linkis.Resource{Memory: 3 * linkis.GiB / 2, MilliCores: 1500, Instances: 1}

	left, err := left.Sub(ask)
	fmt.Println(left, err)
	_, err = ask.Sub(left)
	fmt.Println(errors.Is(err, linkis.ErrInvalidResource))
	// Output:
	// memory=18944MiB cores=8.5 instances=9 <nil>
	// true
}

func ExampleCanTransition() {
	fmt.Println(linkis.CanTransition(linkis.KindEngineConn, linkis.StatusUnlock, linkis.StatusIdle))
	fmt.Println(linkis.CanTransition(linkis.KindEngineConn, linkis.StatusSuccess, linkis.StatusUnlock))
	fmt.Println(linkis.CheckTransition(linkis.KindECM, "ecm-1", linkis.StatusShuttingDown, linkis.StatusRunning))
	// Output:
	// true
	// false
	// illegal status transition: ECM ecm-1: ShuttingDown → Running is not allowed
}
