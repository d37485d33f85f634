using System;
using XmCdp.Events;

namespace XmCdp.Native
{
    /// <summary>Events: VIEW, IDENTITY and custom events, packed into one pinned buffer and enqueued (never waits on the network).</summary>
    internal static unsafe partial class NativeCalls
    {
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
    }
}
