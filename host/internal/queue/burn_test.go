package queue

import "fmt"

// burnEnv makes the test binary a process that only computes, until it is
// killed.
const burnEnv = "LRSBRIDGE_QUEUE_BURN"

// burn computes forever.
func burn() {
	x := 1.0
	for {
		for range 1 << 20 {
			x = x*1.0000001 + 1
		}
		if x == 0 {
			fmt.Println(x)
		}
	}
}
