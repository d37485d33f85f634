// Stand-in for the generated bindings/csharp/Interop.cs, written against the ABI shape agreed for the
// first C ABI (see dotnet/README.md). It is compiled ONLY while bindings/csharp/Interop.cs does not exist
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
        public UIntPtr len;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct xmcdp_page_view_t
    {
        public xmcdp_str_t browser_id;
        public xmcdp_str_t channel;
        public xmcdp_str_t currency;
        public xmcdp_str_t language;
        public xmcdp_str_t page;
        public xmcdp_str_t pos;
        public xmcdp_str_t url;
        public xmcdp_str_t referrer;
        public xmcdp_str_t page_variant_id;
        public xmcdp_str_t user_agent;
        public xmcdp_str_t ext_json;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct xmcdp_event_t
    {
        public xmcdp_str_t type;
        public xmcdp_str_t browser_id;
        public xmcdp_str_t channel;
        public xmcdp_str_t currency;
        public xmcdp_str_t language;
        public xmcdp_str_t page;
        public xmcdp_str_t pos;
        public xmcdp_str_t user_agent;
        public xmcdp_str_t data_json;
        public xmcdp_str_t ext_json;
    }

    internal static class Interop
    {
        public const string NativeLib = "xmcdp";

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_new")]
        public static extern int xmcdp_client_new(xmcdp_str_t settings_json, out ulong client);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_page_view")]
        public static extern int xmcdp_client_page_view(ulong client, ref xmcdp_page_view_t view);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_identity")]
        public static extern int xmcdp_client_identity(ulong client, ref xmcdp_event_t identity);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_event")]
        public static extern int xmcdp_client_event(ulong client, ref xmcdp_event_t ev);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_stats")]
        public static extern int xmcdp_client_stats(ulong client, IntPtr buf, UIntPtr cap, out UIntPtr len);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_shutdown")]
        public static extern int xmcdp_client_shutdown(ulong client, uint deadline_ms);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_client_delete")]
        public static extern int xmcdp_client_delete(ulong client);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_last_error")]
        public static extern int xmcdp_last_error(IntPtr buf, UIntPtr cap, out UIntPtr len);

        [DllImport(NativeLib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "xmcdp_log_next")]
        public static extern int xmcdp_log_next(uint timeout_ms, out uint level, IntPtr buf, UIntPtr cap, out UIntPtr len);
    }
}
#endif
