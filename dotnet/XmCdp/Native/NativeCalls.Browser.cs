using System;
using System.Text;
using XmCdp.Browser;

namespace XmCdp.Native
{
    /// <summary>Browser ids: the visitor's id from its Cookie header, and the guest behind an id.</summary>
    internal static unsafe partial class NativeCalls
    {
        /// <summary>Browser id for a Cookie header; splits the output buffer as xmcdp_browser_id_t describes.</summary>
        internal static int BrowserEnsure(ulong client, string cookieHeader, uint budgetMs, out BrowserIdSource source, out bool created,
            out string browserId, out string guestRef, out string setCookies)
        {
            browserId = guestRef = setCookies = null;
            xmcdp_browser_id_t info;
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
                source = (BrowserIdSource)(int)info.source;
                created = info.created != 0;
                // The usual answer fits the buffer: each part straight from it (no whole-answer string to cut up).
                if (status == 0) return Split(o, len, ref info, out browserId, out guestRef, out setCookies);
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

        /// <summary>Cuts an xmcdp_browser_id_t answer held in the output buffer (browser id, guest ref, Set-Cookie lines back to back) into its parts.</summary>
        private static int Split(byte* a, ulong len, ref xmcdp_browser_id_t info, out string browserId, out string guestRef, out string setCookies)
        {
            browserId = guestRef = setCookies = null;
            ulong idLen = info.browser_id_len, refLen = info.guest_ref_len, ckLen = info.set_cookies_len;
            if (idLen > len || refLen > len || ckLen > len || idLen + refLen + ckLen != len) return (int)CdpStatus.Internal;
            int id = (int)idLen, gr = (int)refLen, ck = (int)ckLen;
            browserId = Encoding.UTF8.GetString(a, id);
            guestRef = gr == 0 ? null : Encoding.UTF8.GetString(a + id, gr);
            setCookies = ck == 0 ? null : Encoding.UTF8.GetString(a + id + gr, ck);
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
    }
}
