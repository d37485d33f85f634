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
    internal static unsafe partial class NativeCalls
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
            return new xmcdp_str_t { ptr = (IntPtr)p, len = (ulong)len };
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

        private static xmcdp_common_t Common(ref Utf8Packer p, CdpEvent e)
        {
            return new xmcdp_common_t
            {
                browser_id = p.Add(e.BrowserId),
                channel = p.Add(e.Channel),
                currency = p.Add(e.Currency),
                language = p.Add(e.Language),
                page = p.Add(e.Page),
                point_of_sale = p.Add(e.PointOfSale),
            };
        }

        private static int CommonBytes(CdpEvent e)
        {
            return MaxBytes(e.BrowserId) + MaxBytes(e.Channel) + MaxBytes(e.Currency) + MaxBytes(e.Language)
                + MaxBytes(e.Page) + MaxBytes(e.PointOfSale) + MaxBytes(e.UserAgent);
        }

        internal static int PageView(ulong client, PageView v)
        {
            string ext = v.ExtJsonOrNull();
            int need = 1 + CommonBytes(v) + MaxBytes(v.Url) + MaxBytes(v.Referrer) + MaxBytes(v.PageVariantId) + MaxBytes(ext);
            var buf = RentBuffer(need);
            fixed (byte* b = buf)
            {
                var p = new Utf8Packer(b, buf.Length);
                var nv = new xmcdp_page_view_t
                {
                    common = Common(ref p, v),
                    url = p.Add(v.Url),
                    referrer = p.Add(v.Referrer),
                    page_variant_id = p.Add(v.PageVariantId),
                    ext_json = p.Add(ext),
                    user_agent = p.Add(v.UserAgent),
                    include_utm = v.IncludeUtm ? (byte)1 : (byte)0,
                };
                return (int)Interop.xmcdp_client_page_view(client, ref nv);
            }
        }

        internal static int Event(ulong client, CustomEvent e)
        {
            string ext = e.ExtJsonOrNull();
            string data = e.DataJsonOrNull();
            int need = 1 + CommonBytes(e) + MaxBytes(e.Type) + MaxBytes(data) + MaxBytes(ext);
            var buf = RentBuffer(need);
            fixed (byte* b = buf)
            {
                var p = new Utf8Packer(b, buf.Length);
                var ne = new xmcdp_event_t
                {
                    common = Common(ref p, e),
                    event_type = p.Add(e.Type),
                    data_json = p.Add(data),
                    ext_json = p.Add(ext),
                    user_agent = p.Add(e.UserAgent),
                };
                return (int)Interop.xmcdp_client_event(client, ref ne);
            }
        }

        // The native side accepts at most this many street lines / identifiers (MAX_ITEMS).
        private const int MaxItems = 64;

        internal static int Identity(ulong client, IdentityEvent e)
        {
            int streets = e.Street.Count, ids = e.Identifiers.Count;
            if (streets > MaxItems || ids > MaxItems) return (int)CdpStatus.TooLarge;
            string ext = e.ExtJsonOrNull();
            int need = 1 + CommonBytes(e) + MaxBytes(e.Email) + MaxBytes(e.FirstName) + MaxBytes(e.LastName)
                + MaxBytes(e.DateOfBirth) + MaxBytes(e.Gender) + MaxBytes(e.Mobile) + MaxBytes(e.Phone)
                + MaxBytes(e.City) + MaxBytes(e.State) + MaxBytes(e.Country) + MaxBytes(e.PostalCode)
                + MaxBytes(e.Title) + MaxBytes(ext);
            for (int i = 0; i < streets; i++) need += MaxBytes(e.Street[i]);
            for (int i = 0; i < ids; i++)
            {
                var id = e.Identifiers[i];
                need += MaxBytes(id.Provider) + MaxBytes(id.Id) + MaxBytes(id.ExpiryDate);
            }
            var buf = RentBuffer(need);
            xmcdp_str_t* streetArr = stackalloc xmcdp_str_t[Math.Max(streets, 1)];
            xmcdp_identifier_t* idArr = stackalloc xmcdp_identifier_t[Math.Max(ids, 1)];
            fixed (byte* b = buf)
            {
                var p = new Utf8Packer(b, buf.Length);
                for (int i = 0; i < streets; i++) streetArr[i] = p.Add(e.Street[i] ?? string.Empty);
                for (int i = 0; i < ids; i++)
                {
                    var id = e.Identifiers[i];
                    idArr[i] = new xmcdp_identifier_t { provider = p.Add(id.Provider), id = p.Add(id.Id), expiry_date = p.Add(id.ExpiryDate) };
                }
                var ni = new xmcdp_identity_t
                {
                    common = Common(ref p, e),
                    email = p.Add(e.Email),
                    first_name = p.Add(e.FirstName),
                    last_name = p.Add(e.LastName),
                    dob = p.Add(e.DateOfBirth),
                    gender = p.Add(e.Gender),
                    mobile = p.Add(e.Mobile),
                    phone = p.Add(e.Phone),
                    city = p.Add(e.City),
                    state = p.Add(e.State),
                    country = p.Add(e.Country),
                    postal_code = p.Add(e.PostalCode),
                    title = p.Add(e.Title),
                    ext_json = p.Add(ext),
                    user_agent = p.Add(e.UserAgent),
                    street = streets == 0 ? IntPtr.Zero : (IntPtr)streetArr,
                    street_len = (ulong)streets,
                    identifiers = ids == 0 ? IntPtr.Zero : (IntPtr)idArr,
                    identifiers_len = (ulong)ids,
                };
                return (int)Interop.xmcdp_client_identity(client, ref ni);
            }
        }

        internal static uint Version() => Interop.xmcdp_version();

        internal static int Shutdown(ulong client, uint deadlineMs) => (int)Interop.xmcdp_client_shutdown(client, deadlineMs);

        internal static int Delete(ulong client) => (int)Interop.xmcdp_client_delete(client);

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

        internal static int Stats(ulong client, out string json)
        {
            return ReadString((IntPtr b, ulong c, out ulong l) => (int)Interop.xmcdp_client_stats(client, b, c, out l), out json);
        }

        internal static int SettingsSchema(out string json)
        {
            return ReadString((IntPtr b, ulong c, out ulong l) => (int)Interop.xmcdp_settings_schema(b, c, out l), out json);
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

        internal static int LogNext(uint timeoutMs, byte[] buf, out uint level, out int len)
        {
            ulong l;
            int status;
            fixed (byte* b = buf)
            {
                status = (int)Interop.xmcdp_log_next(timeoutMs, out level, (IntPtr)b, (ulong)buf.Length, out l);
            }
            len = checked((int)l);
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
