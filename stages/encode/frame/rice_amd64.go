package frame

import "golang.org/x/sys/cpu"

// haveRiceAsm: riceDivBMI2 runs on this CPU (BMI1 for TZCNT, BMI2 for SHLX,
// SHRX and BZHI).
var haveRiceAsm = cpu.X86.HasBMI1 && cpu.X86.HasBMI2

// riceDivBMI2 is riceScaledGo for the decimal transform (mul 1) in BMI2
// assembly (rice_amd64.s): it decodes Rice values with parameter k <= 56 from
// src (srcLen bytes) into the running integer k0 and stores float64(k0) / div
// at vals[0..], one value per 8-byte load, stopping before an escape, where
// fewer than 8 bytes are left to load, or after n values. It returns how many
// values it stored, the bit position after them and the last integer.
//
//go:noescape
func riceDivBMI2(src *byte, srcLen int, k uint, k0 int64, div float64, vals *float64, n int) (done int, bitPos uint, last int64)

// riceShortBMI2 is riceShortGo in BMI2 assembly (rice_amd64.s): it writes the
// Rice codes of zs[0..cnt) with parameter k to buf from byte pos on (acc
// holding n < 8 pending bits) until one is longer than 57 bits, and returns
// how many it wrote and the new pos, acc and n.
//
//go:noescape
func riceShortBMI2(buf *byte, pos int, acc uint64, n uint, zs *uint64, cnt int, k uint) (done, newPos int, newAcc uint64, newN uint)

// riceBMI2 is riceDivBMI2 storing the values themselves into zs.
//
//go:noescape
func riceBMI2(src *byte, srcLen int, k uint, zs *uint64, n int) (done int, bitPos uint)
