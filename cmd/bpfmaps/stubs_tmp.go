package main

import (
	"errors"
	"io"
)

func runTail(args []string, stdout io.Writer) error { return errors.New("todo") }
