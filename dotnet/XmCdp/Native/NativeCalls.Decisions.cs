using System;
using System.Text;
using XmCdp.Decisions;

namespace XmCdp.Native
{
    /// <summary>Decisions, browser ids and the Guest REST API: the calls that return data (see the header's buffer rules).</summary>
    internal static unsafe partial class NativeCalls
    {
        // Answers bigger than this come back through xmcdp_result_take (the native side keeps them for us).
        private const int OutBufferSize = 8 * 1024;

        [ThreadStatic] private static byte[] t_out;

        private static byte[] OutBuffer() => t_out ?? (t_out = new byte[OutBufferSize]);

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

        private static int DecisionRequestBytes(DecisionRequest r, string paramsJson)
        {
            int n = 1 + MaxBytes(r.FriendlyId) + MaxBytes(r.BrowserId) + MaxBytes(r.Email) + MaxBytes(r.IdentifierProvider)
                + MaxBytes(r.IdentifierId) + MaxBytes(r.Channel) + MaxBytes(r.Currency) + MaxBytes(r.Language)
                + MaxBytes(r.PointOfSale) + MaxBytes(paramsJson) + MaxBytes(r.GuestRef) + MaxBytes(r.UserAgent);
            foreach (var v in r.PageVariantIds) n += MaxBytes(v);
            return n;
        }

        private static xmcdp_decision_request_t Pack(ref Utf8Packer p, DecisionRequest r, string paramsJson, xmcdp_str_t* variants)
        {
            int nv = r.PageVariantIds.Count;
            for (int i = 0; i < nv; i++) variants[i] = p.Add(r.PageVariantIds[i] ?? string.Empty);
            return new xmcdp_decision_request_t
            {
                friendly_id = p.Add(r.FriendlyId),
                browser_id = p.Add(r.BrowserId),
                email = p.Add(r.Email),
                identifier_provider = p.Add(r.IdentifierProvider),
                identifier_id = p.Add(r.IdentifierId),
                channel = p.Add(r.Channel),
                currency = p.Add(r.Currency),
                language = p.Add(r.Language),
                point_of_sale = p.Add(r.PointOfSale),
                params_json = p.Add(paramsJson),
                guest_ref = p.Add(r.GuestRef),
                user_agent = p.Add(r.UserAgent),
                page_variant_ids = nv == 0 ? IntPtr.Zero : (IntPtr)variants,
                page_variant_ids_len = (ulong)nv,
            };
        }

        internal static int Decide(ulong client, DecisionRequest r, uint budgetMs, out string json)
        {
            json = null;
            if (r.PageVariantIds.Count > MaxItems) return (int)CdpStatus.TooLarge;
            var paramsJson = r.ParamsJsonOrNull();
            var buf = RentBuffer(DecisionRequestBytes(r, paramsJson));
            var outBuf = OutBuffer();
            xmcdp_str_t* variants = stackalloc xmcdp_str_t[Math.Max(r.PageVariantIds.Count, 1)];
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                var req = Pack(ref p, r, paramsJson, variants);
                ulong len;
                int status = (int)Interop.xmcdp_client_decide(client, ref req, budgetMs, (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }

        internal static int DecisionBegin(ulong client, DecisionRequest r, out ulong ticket)
        {
            ticket = 0;
            if (r.PageVariantIds.Count > MaxItems) return (int)CdpStatus.TooLarge;
            var paramsJson = r.ParamsJsonOrNull();
            var buf = RentBuffer(DecisionRequestBytes(r, paramsJson));
            xmcdp_str_t* variants = stackalloc xmcdp_str_t[Math.Max(r.PageVariantIds.Count, 1)];
            fixed (byte* b = buf)
            {
                var p = new Utf8Packer(b, buf.Length);
                var req = Pack(ref p, r, paramsJson, variants);
                return (int)Interop.xmcdp_client_decision_begin(client, ref req, out ticket);
            }
        }

        internal static int DecisionReady(ulong client, ulong ticket, out bool ready)
        {
            byte r;
            int status = (int)Interop.xmcdp_client_decision_ready(client, ticket, out r);
            ready = status == 0 && r != 0;
            return status;
        }

        internal static int DecisionWait(ulong client, ulong ticket, uint budgetMs, out string json)
        {
            var outBuf = OutBuffer();
            fixed (byte* o = outBuf)
            {
                ulong len;
                int status = (int)Interop.xmcdp_client_decision_wait(client, ticket, budgetMs, (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }

        /// <summary>Browser id for a Cookie header; splits the output buffer as xmcdp_browser_id_t describes.</summary>
        internal static int BrowserEnsure(ulong client, string cookieHeader, uint budgetMs, out xmcdp_browser_id_t info,
            out string browserId, out string guestRef, out string setCookies)
        {
            browserId = guestRef = setCookies = null;
            var buf = RentBuffer(MaxBytes(cookieHeader) + 1);
            var outBuf = OutBuffer();
            int status;
            ulong len;
            string raw;
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                status = (int)Interop.xmcdp_client_browser_ensure(client, p.Add(cookieHeader), budgetMs, out info, (IntPtr)o, (ulong)outBuf.Length, out len);
                status = Finish(status, o, len, out raw);
            }
            if (status != 0 || raw == null) return status;
            // Every part is ASCII (ids, refs, cookie attributes), so byte lengths are char lengths.
            int idLen = checked((int)info.browser_id_len), refLen = checked((int)info.guest_ref_len), ckLen = checked((int)info.set_cookies_len);
            if (idLen + refLen + ckLen != raw.Length) return (int)CdpStatus.Internal;
            browserId = raw.Substring(0, idLen);
            guestRef = refLen == 0 ? null : raw.Substring(idLen, refLen);
            setCookies = ckLen == 0 ? null : raw.Substring(idLen + refLen, ckLen);
            return 0;
        }

        internal static int BrowserGuestRef(ulong client, string browserId, uint budgetMs, out string guestRef)
        {
            var buf = RentBuffer(MaxBytes(browserId) + 1);
            var outBuf = OutBuffer();
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                ulong len;
                int status = (int)Interop.xmcdp_client_browser_guest_ref(client, p.Add(browserId), budgetMs, (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out guestRef);
            }
        }

        /// <summary>One Guest REST call: the strings are packed and pinned, <paramref name="call"/> gets them in order.</summary>
        internal delegate xmcdp_status_t GuestCall(xmcdp_str_t[] strs, IntPtr buf, ulong cap, out ulong len);

        internal static int Guest(string[] args, GuestCall call, out string json)
        {
            int need = 1;
            foreach (var a in args) need += MaxBytes(a);
            var buf = RentBuffer(need);
            var outBuf = OutBuffer();
            var strs = new xmcdp_str_t[args.Length];
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                for (int i = 0; i < args.Length; i++) strs[i] = p.Add(args[i]);
                ulong len;
                int status = (int)call(strs, (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }

        internal static int GuestDeleteFields(ulong client, string guestRef, string name, string[] fields, uint budgetMs, out string json)
        {
            json = null;
            if (fields.Length > MaxItems) return (int)CdpStatus.TooLarge;
            int need = 1 + MaxBytes(guestRef) + MaxBytes(name);
            foreach (var f in fields) need += MaxBytes(f);
            var buf = RentBuffer(need);
            var outBuf = OutBuffer();
            xmcdp_str_t* arr = stackalloc xmcdp_str_t[Math.Max(fields.Length, 1)];
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                var g = p.Add(guestRef);
                var n = p.Add(name);
                for (int i = 0; i < fields.Length; i++) arr[i] = p.Add(fields[i] ?? string.Empty);
                ulong len;
                int status = (int)Interop.xmcdp_client_guest_extension_delete_fields(client, g, n, fields.Length == 0 ? IntPtr.Zero : (IntPtr)arr,
                    (ulong)fields.Length, budgetMs, (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }

        /// <summary>A budget as the native milliseconds: zero = the client's configured default, at least 1 otherwise.</summary>
        internal static uint BudgetMs(TimeSpan budget)
        {
            if (budget == TimeSpan.Zero) return 0;
            if (budget < TimeSpan.Zero) return 1;
            return (uint)Math.Max(1, Math.Min(budget.TotalMilliseconds, 3600000));
        }
    }
}
