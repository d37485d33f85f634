// Stand-in for the generated bindings/csharp/Interop.cs, written against the ABI shape agreed for the
// first C ABI (src/ffi/*.rs as of this commit). It is compiled ONLY while bindings/csharp/Interop.cs does not exist
// (XmCdp.csproj and xtask/src/dotnet.rs both check); once the generated file lands, this file is deleted and
// NativeCalls.cs is adapted. Nothing outside NativeCalls.cs may touch these declarations.
#if XMCDP_PENDING_INTEROP
using System;
using System.Runtime.InteropServices;

namespace XmCdp.Native
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct xmcdp_str_t
    {
        public IntPtr ptr;
        public ulong len;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct xmcdp_common_t
    {
        public xmcdp_str_t browser_id;
        public xmcdp_str_t channel;
        public xmcdp_str_t currency;
        public xmcdp_str_t language;
        public xmcdp_str_t page;
        public xmcdp_str_t point_of_sale;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct xmcdp_page_view_t
    {
        public xmcdp_common_t common;
        public xmcdp_str_t url;
        public xmcdp_str_t referrer;
        public xmcdp_str_t page_variant_id;
        public xmcdp_str_t ext_json;
        public xmcdp_str_t user_agent;
        public byte include_utm;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct xmcdp_identifier_t
    {
        public xmcdp_str_t provider;
        public xmcdp_str_t id;
        public xmcdp_str_t expiry_date;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct xmcdp_identity_t
    {
        public xmcdp_common_t common;
        public xmcdp_str_t email;
        public xmcdp_str_t first_name;
        public xmcdp_str_t last_name;
        public xmcdp_str_t dob;
        public xmcdp_str_t gender;
        public xmcdp_str_t mobile;
        public xmcdp_str_t phone;
        public xmcdp_str_t city;
        public xmcdp_str_t state;
        public xmcdp_str_t country;
        public xmcdp_str_t postal_code;
        public xmcdp_str_t title;
        public xmcdp_str_t ext_json;
        public xmcdp_str_t user_agent;
        public IntPtr street;
        public ulong street_len;
        public IntPtr identifiers;
        public ulong identifiers_len;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct xmcdp_event_t
    {
        public xmcdp_common_t common;
        public xmcdp_str_t event_type;
        public xmcdp_str_t data_json;
        public xmcdp_str_t ext_json;
        public xmcdp_str_t user_agent;
    }

    internal static class Interop
    {
        public const string NativeLib = "xmcdp";

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_version")]
        public static extern uint xmcdp_version();

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_new")]
        public static extern int xmcdp_client_new(xmcdp_str_t settings_json, out ulong out_client);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_page_view")]
        public static extern int xmcdp_client_page_view(ulong client, ref xmcdp_page_view_t page_view);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_identity")]
        public static extern int xmcdp_client_identity(ulong client, ref xmcdp_identity_t identity);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_event")]
        public static extern int xmcdp_client_event(ulong client, ref xmcdp_event_t ev);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_stats")]
        public static extern int xmcdp_client_stats(ulong client, IntPtr buf, ulong cap, out ulong out_len);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_shutdown")]
        public static extern int xmcdp_client_shutdown(ulong client, uint deadline_ms);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_delete")]
        public static extern int xmcdp_client_delete(ulong client);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_last_error")]
        public static extern int xmcdp_last_error(IntPtr buf, ulong cap, out ulong out_len);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_log_next")]
        public static extern int xmcdp_log_next(uint timeout_ms, out uint out_level, IntPtr buf, ulong cap, out ulong out_len);
    }
}
#endif
