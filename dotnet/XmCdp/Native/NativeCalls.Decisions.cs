using System;
using XmCdp.Decisions;

namespace XmCdp.Native
{
    /// <summary>Decisions: run a flow now, or start it (a ticket) and poll or wait for it later.</summary>
    internal static unsafe partial class NativeCalls
    {
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
    }
}
