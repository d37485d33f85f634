using System;
using XmCdp.Events;

namespace XmCdp.Native
{
    /// <summary>Events: VIEW, IDENTITY and custom events, packed into one pinned buffer and enqueued (never waits on the network).</summary>
    internal static unsafe partial class NativeCalls
    {
        private static void Common(ref Utf8Packer p, ref xmcdp_common_t c, CdpEvent e)
        {
            p.Put(ref c.browser_id, e.BrowserId);
            p.Put(ref c.channel, e.Channel);
            p.Put(ref c.currency, e.Currency);
            p.Put(ref c.language, e.Language);
            p.Put(ref c.page, e.Page);
            p.Put(ref c.point_of_sale, e.PointOfSale);
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
            // Filled in place (see Utf8Packer.Put), in the field order the packing always had.
            var nv = default(xmcdp_page_view_t);
            fixed (byte* b = buf)
            {
                var p = new Utf8Packer(b, buf.Length);
                Common(ref p, ref nv.common, v);
                p.Put(ref nv.url, v.Url);
                p.Put(ref nv.referrer, v.Referrer);
                p.Put(ref nv.page_variant_id, v.PageVariantId);
                p.Put(ref nv.ext_json, ext);
                p.Put(ref nv.user_agent, v.UserAgent);
                nv.include_utm = v.IncludeUtm ? (byte)1 : (byte)0;
                return (int)Interop.xmcdp_client_page_view(client, ref nv);
            }
        }

        internal static int Event(ulong client, CustomEvent e)
        {
            string ext = e.ExtJsonOrNull();
            string data = e.DataJsonOrNull();
            int need = 1 + CommonBytes(e) + MaxBytes(e.Type) + MaxBytes(data) + MaxBytes(ext);
            var buf = RentBuffer(need);
            var ne = default(xmcdp_event_t);
            fixed (byte* b = buf)
            {
                var p = new Utf8Packer(b, buf.Length);
                Common(ref p, ref ne.common, e);
                p.Put(ref ne.event_type, e.Type);
                p.Put(ref ne.data_json, data);
                p.Put(ref ne.ext_json, ext);
                p.Put(ref ne.user_agent, e.UserAgent);
                return (int)Interop.xmcdp_client_event(client, ref ne);
            }
        }

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
                var ni = default(xmcdp_identity_t);
                Common(ref p, ref ni.common, e);
                p.Put(ref ni.email, e.Email);
                p.Put(ref ni.first_name, e.FirstName);
                p.Put(ref ni.last_name, e.LastName);
                p.Put(ref ni.dob, e.DateOfBirth);
                p.Put(ref ni.gender, e.Gender);
                p.Put(ref ni.mobile, e.Mobile);
                p.Put(ref ni.phone, e.Phone);
                p.Put(ref ni.city, e.City);
                p.Put(ref ni.state, e.State);
                p.Put(ref ni.country, e.Country);
                p.Put(ref ni.postal_code, e.PostalCode);
                p.Put(ref ni.title, e.Title);
                p.Put(ref ni.ext_json, ext);
                p.Put(ref ni.user_agent, e.UserAgent);
                ni.street = streets == 0 ? IntPtr.Zero : (IntPtr)streetArr;
                ni.street_len = (ulong)streets;
                ni.identifiers = ids == 0 ? IntPtr.Zero : (IntPtr)idArr;
                ni.identifiers_len = (ulong)ids;
                return (int)Interop.xmcdp_client_identity(client, ref ni);
            }
        }
    }
}
