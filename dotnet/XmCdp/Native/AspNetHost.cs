using System;

namespace XmCdp.Native
{
    /// <summary>
    /// Whether this AppDomain is an ASP.NET application domain, decided WITHOUT touching System.Web: on Mono, merely
    /// initialising HttpRuntime or HostingEnvironment outside ASP.NET swaps in the web configuration system and
    /// empties ConfigurationManager.AppSettings for the rest of the process (seen in the NUnit domain). ASP.NET
    /// (.NET Framework and Mono) stores the application path in the domain data key ".appPath".
    /// </summary>
    public static class AspNetHost
    {
        public static bool IsHosted => AppDomain.CurrentDomain.GetData(".appPath") != null;
    }
}
