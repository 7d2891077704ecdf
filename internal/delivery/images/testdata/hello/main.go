// Command hello is the program the image tests put into an image.
package main

import (
	"fmt"
	"os"
)

func main() { fmt.Println("hello from", os.Getenv("HOME"), os.Getuid()) }
