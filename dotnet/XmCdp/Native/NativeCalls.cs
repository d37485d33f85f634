using System;
using System.Text;
using XmCdp.Events;

namespace XmCdp.Native
{
    /// <summary>
    /// The only code that touches the generated <c>Interop</c> class: it packs managed strings into one pinned,
    /// per-thread UTF-8 buffer (no allocation per call once warm) and returns raw status codes. When the
    /// generated signatures change, this file is the one to adapt.
    /// </summary>
    internal static unsafe class NativeCalls
    {
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

            public xmcdp_str_t Add(string s)
            {
                if (s == null) return default(xmcdp_str_t);
                int n = 0;
                if (s.Length > 0)
                {
                    fixed (char* c = s)
                    {
                        n = Encoding.UTF8.GetBytes(c, s.Length, _base + _pos, _cap - _pos);
                    }
                }
                var r = MakeStr(_base + _pos, n);
                _pos += n;
                return r;
            }
        }

        internal static xmcdp_str_t MakeStr(byte* p, int len)
        {
            return new xmcdp_str_t { ptr = (IntPtr)p, len = (UIntPtr)(uint)len };
        }

        internal static int ClientNew(string settingsJson, out ulong client)
        {
            var buf = RentBuffer(MaxBytes(settingsJson) + 1);
            fixed (byte* b = buf)
            {
                var p = new Utf8Packer(b, buf.Length);
                return (int)Interop.xmcdp_client_new(p.Add(settingsJson), out client);
            }
        }

        internal static int PageView(ulong client, PageView v)
        {
            string ext = v.ExtJsonOrNull();
            int need = 1 + MaxBytes(v.BrowserId) + MaxBytes(v.Channel) + MaxBytes(v.Currency) + MaxBytes(v.Language)
                + MaxBytes(v.Page) + MaxBytes(v.PointOfSale) + MaxBytes(v.Url) + MaxBytes(v.Referrer)
                + MaxBytes(v.PageVariantId) + MaxBytes(v.UserAgent) + MaxBytes(ext);
            var buf = RentBuffer(need);
            fixed (byte* b = buf)
            {
                var p = new Utf8Packer(b, buf.Length);
                var nv = new xmcdp_page_view_t
                {
                    browser_id = p.Add(v.BrowserId),
                    channel = p.Add(v.Channel),
                    currency = p.Add(v.Currency),
                    language = p.Add(v.Language),
                    page = p.Add(v.Page),
                    pos = p.Add(v.PointOfSale),
                    url = p.Add(v.Url),
                    referrer = p.Add(v.Referrer),
                    page_variant_id = p.Add(v.PageVariantId),
                    user_agent = p.Add(v.UserAgent),
                    ext_json = p.Add(ext),
                };
                return (int)Interop.xmcdp_client_page_view(client, ref nv);
            }
        }

        internal static int Event(ulong client, CdpEvent e, string type, string dataJson, bool identity)
        {
            string ext = e.ExtJsonOrNull();
            int need = 1 + MaxBytes(type) + MaxBytes(e.BrowserId) + MaxBytes(e.Channel) + MaxBytes(e.Currency)
                + MaxBytes(e.Language) + MaxBytes(e.Page) + MaxBytes(e.PointOfSale) + MaxBytes(e.UserAgent)
                + MaxBytes(dataJson) + MaxBytes(ext);
            var buf = RentBuffer(need);
            fixed (byte* b = buf)
            {
                var p = new Utf8Packer(b, buf.Length);
                var ne = new xmcdp_event_t
                {
                    type = p.Add(type),
                    browser_id = p.Add(e.BrowserId),
                    channel = p.Add(e.Channel),
                    currency = p.Add(e.Currency),
                    language = p.Add(e.Language),
                    page = p.Add(e.Page),
                    pos = p.Add(e.PointOfSale),
                    user_agent = p.Add(e.UserAgent),
                    data_json = p.Add(dataJson),
                    ext_json = p.Add(ext),
                };
                return identity
                    ? (int)Interop.xmcdp_client_identity(client, ref ne)
                    : (int)Interop.xmcdp_client_event(client, ref ne);
            }
        }

        internal static int Shutdown(ulong client, uint deadlineMs) => (int)Interop.xmcdp_client_shutdown(client, deadlineMs);

        internal static int Delete(ulong client) => (int)Interop.xmcdp_client_delete(client);

        /// <summary>Reads a native string result with the "needed length on BUFFER_TOO_SMALL" protocol.</summary>
        internal delegate int BufferCall(IntPtr buf, UIntPtr cap, out UIntPtr len);

        internal static int ReadString(BufferCall call, out string result)
        {
            int cap = 512;
            for (int attempt = 0; attempt < 4; attempt++)
            {
                var buf = new byte[cap];
                UIntPtr len;
                int status;
                fixed (byte* b = buf)
                {
                    status = call((IntPtr)b, (UIntPtr)(uint)buf.Length, out len);
                }
                int n = checked((int)len.ToUInt64());
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

        internal static int Stats(ulong client, out string json)
        {
            return ReadString((IntPtr b, UIntPtr c, out UIntPtr l) => (int)Interop.xmcdp_client_stats(client, b, c, out l), out json);
        }

        /// <summary>The calling thread's last native error message, or a generic text when there is none.</summary>
        internal static string LastError()
        {
            try
            {
                string msg;
                int s = ReadString((IntPtr b, UIntPtr c, out UIntPtr l) => (int)Interop.xmcdp_last_error(b, c, out l), out msg);
                return s == 0 && !string.IsNullOrEmpty(msg) ? msg : null;
            }
            catch (Exception)
            {
                return null;
            }
        }

        internal static int LogNext(uint timeoutMs, byte[] buf, out uint level, out int len)
        {
            UIntPtr l;
            int status;
            fixed (byte* b = buf)
            {
                status = (int)Interop.xmcdp_log_next(timeoutMs, out level, (IntPtr)b, (UIntPtr)(uint)buf.Length, out l);
            }
            len = checked((int)l.ToUInt64());
            return status;
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
