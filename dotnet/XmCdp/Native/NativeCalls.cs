using System;
using System.Text;

namespace XmCdp.Native
{
    /// <summary>
    /// The only code that touches the generated <c>Interop</c> class, one file per native area (Client, Events,
    /// Decisions, Browser, Guests, Log); this file holds their shared plumbing. Strings are packed into one pinned,
    /// per-thread UTF-8 buffer and answers read into a per-thread output buffer (no allocation per call once warm);
    /// every call returns the raw status code. When the generated signatures change, these files are the ones to adapt.
    /// </summary>
    internal static unsafe partial class NativeCalls
    {
        // The native side accepts at most this many list items (street lines, identifiers, variants, fields: MAX_ITEMS).
        private const int MaxItems = 64;

        // Answers bigger than this come back through xmcdp_result_take (the native side keeps them for us).
        private const int OutBufferSize = 8 * 1024;

        [ThreadStatic] private static byte[] t_out;

        private static byte[] OutBuffer() => t_out ?? (t_out = new byte[OutBufferSize]);

        // Buffers above this size are not kept per thread: a rare huge event should not pin memory forever.
        private const int MaxRetainedBuffer = 64 * 1024;

        [ThreadStatic] private static byte[] t_buffer;

        internal static byte[] RentBuffer(int needed)
        {
            var buf = t_buffer;
            if (buf != null && buf.Length >= needed) return buf;
            var size = Math.Max(needed, 1024);
            buf = new byte[size];
            if (size <= MaxRetainedBuffer) t_buffer = buf;
            return buf;
        }

        /// <summary>Worst case UTF-8 size: each UTF-16 unit needs at most 3 bytes (a surrogate pair 4 for 2 units).</summary>
        internal static int MaxBytes(string s) => s == null ? 0 : s.Length * 3;

        /// <summary>Writes strings back to back into a pinned buffer; null stays NULL (absent), "" is a 0-length slice.</summary>
        internal struct Utf8Packer
        {
            private readonly byte* _base;
            private readonly int _cap;
            private int _pos;

            public Utf8Packer(byte* buffer, int capacity)
            {
                _base = buffer;
                _cap = capacity;
                _pos = 0;
            }

            public int Position => _pos;

            /// <summary>
            /// Like <see cref="Add"/>, written straight into the native struct's field: Mono copies a returned
            /// struct (and an object initializer's temporary) field by field, which cost as much as the encoding.
            /// </summary>
            public void Put(ref xmcdp_str_t field, string s)
            {
                if (s == null)
                {
                    field = default(xmcdp_str_t);
                    return;
                }
                byte* dst = _base + _pos;
                int n = s.Length == 0 ? 0 : Encode(s, dst, _cap - _pos);
                _pos += n;
                field.ptr = (IntPtr)dst;
                field.len = (ulong)n;
            }

            public xmcdp_str_t Add(string s)
            {
                if (s == null) return default(xmcdp_str_t);
                byte* dst = _base + _pos;
                int n = s.Length == 0 ? 0 : Encode(s, dst, _cap - _pos);
                _pos += n;
                return MakeStr(dst, n);
            }
        }

        /// <summary>
        /// UTF-8 of <paramref name="s"/> into <paramref name="dst"/> (room for <see cref="MaxBytes"/>), byte for byte
        /// what <c>Encoding.UTF8.GetBytes</c> writes: its leading ASCII run is copied here (eight units per step; most
        /// fields are all ASCII), and the rest from the first non-ASCII unit on is left to <c>Encoding.UTF8</c>, so
        /// surrogate pairs and lone surrogates (U+FFFD, as before) are its business, never split by this loop.
        /// Encoding's own call setup costs more than a short field's whole copy on Mono.
        /// </summary>
        internal static int Encode(string s, byte* dst, int cap)
        {
            int len = s.Length;
            fixed (char* c = s)
            {
                int i = 0;
                // Eight units per step, folded into one 8-byte store (the shifts assume little-endian: x86/x64,
                // every .NET Framework host); a step holding any unit >= 0x80 falls to the loop below.
                int wide = BitConverter.IsLittleEndian ? len - 8 : -1;
                for (; i <= wide; i += 8)
                {
                    ulong v = *(ulong*)(c + i), w = *(ulong*)(c + i + 4);
                    if (((v | w) & 0xFF80FF80FF80FF80UL) != 0) break;
                    v |= v >> 8;
                    w |= w >> 8;
                    v = (v & 0xFFFF) | ((v >> 16) & 0xFFFF0000);
                    w = (w & 0xFFFF) | ((w >> 16) & 0xFFFF0000);
                    *(ulong*)(dst + i) = v | (w << 32);
                }
                for (; i < len; i++)
                {
                    char ch = c[i];
                    if (ch >= 0x80) break;
                    dst[i] = (byte)ch;
                }
                if (i == len) return len;
                return i + Encoding.UTF8.GetBytes(c + i, len - i, dst + i, cap - i);
            }
        }

        internal static xmcdp_str_t MakeStr(byte* p, int len)
        {
            return new xmcdp_str_t { ptr = (IntPtr)p, len = (ulong)len };
        }

        /// <summary>Turns a data call's status + bytes into a string; fetches a held result on BUFFER_TOO_SMALL.</summary>
        private static int Finish(int status, byte* buf, ulong len, out string result)
        {
            result = null;
            if (status == 0)
            {
                result = Encoding.UTF8.GetString(buf, checked((int)len));
                return 0;
            }
            if (status != (int)CdpStatus.BufferTooSmall) return status;
            var big = new byte[Math.Max(1, checked((int)len))];
            ulong got;
            int s;
            fixed (byte* b = big)
            {
                s = (int)Interop.xmcdp_result_take((IntPtr)b, (ulong)big.Length, out got);
            }
            if (s == 0) result = Encoding.UTF8.GetString(big, 0, checked((int)got));
            return s;
        }

        /// <summary>A budget as the native milliseconds: zero = the client's configured default, at least 1 otherwise.</summary>
        internal static uint BudgetMs(TimeSpan budget)
        {
            if (budget == TimeSpan.Zero) return 0;
            if (budget < TimeSpan.Zero) return 1;
            return (uint)Math.Max(1, Math.Min(budget.TotalMilliseconds, 3600000));
        }

        /// <summary>Reads a native string result with the "needed length on BUFFER_TOO_SMALL" protocol.</summary>
        internal delegate int BufferCall(IntPtr buf, ulong cap, out ulong len);

        internal static int ReadString(BufferCall call, out string result)
        {
            int cap = 512;
            for (int attempt = 0; attempt < 4; attempt++)
            {
                var buf = new byte[cap];
                ulong len;
                int status;
                fixed (byte* b = buf)
                {
                    status = call((IntPtr)b, (ulong)buf.Length, out len);
                }
                int n = checked((int)len);
                if (status == (int)CdpStatus.BufferTooSmall && n > cap)
                {
                    cap = n;
                    continue;
                }
                result = status == 0 ? Encoding.UTF8.GetString(buf, 0, Math.Min(n, buf.Length)) : null;
                return status;
            }
            result = null;
            return (int)CdpStatus.BufferTooSmall;
        }

        /// <summary>The calling thread's last native error message, or a generic text when there is none.</summary>
        internal static string LastError()
        {
            try
            {
                string msg;
                int s = ReadString((IntPtr b, ulong c, out ulong l) => (int)Interop.xmcdp_last_error(b, c, out l), out msg);
                return s == 0 && !string.IsNullOrEmpty(msg) ? msg : null;
            }
            catch (Exception)
            {
                return null;
            }
        }

        /// <summary>Throws <see cref="XmCdpException"/> for a non-zero status, with the native last-error text.</summary>
        internal static void Check(int status, string operation)
        {
            if (status == 0) return;
            throw Error(status, operation);
        }

        internal static XmCdpException Error(int status, string operation)
        {
            var detail = LastError();
            var code = (CdpStatus)status;
            var msg = "XmCdp: " + operation + " failed with status " + status + " (" + code + ")"
                + (detail != null ? ": " + detail : ".");
            return new XmCdpException(code, msg);
        }
    }
}
