package framework_test

import (
	"fmt"
	"strings"

	"github.com/gleaner/gleaner/examples/internal/framework"
)

func ExampleDecodeApp() {
	app, err := framework.DecodeApp(strings.NewReader(`{
		"id": "web", "cmd": "httpd -f", "cpus": 0.5, "instances": 6,
		"constraints": [["rack", "GROUP_BY", "3"]],
		"container": {"rootfs": {"base": "busybox", "baseVersion": "1.36"}}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(app.ID, app.Instances, app.Cpus, app.Mem, app.Constraints[0], app.Container.Rootfs.Base)

	_, err = framework.DecodeApp(strings.NewReader(`{"id": "web", "cmd": "x", "mem": -1}`))
	fmt.Println(err)
	// Output:
	// /web 6 0.5 128 rack:GROUP_BY:3 busybox
	// app "/web": field "mem": value "-1": must be a non-negative number
}
