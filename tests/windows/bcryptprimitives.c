/*
 * TEST-ONLY stand-in for Windows' bcryptprimitives.dll, which Wine 8.0 lacks. Rust's std (1.78+) imports
 * `ProcessPrng` from it for its hash-map seeds and `getrandom`; every Windows 10 / Server 2016+ machine has
 * the real one. Built by `cargo xtask windows` next to the test programs and never shipped.
 */
#include <windows.h>

/* advapi32's RtlGenRandom, exported as SystemFunction036. */
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
