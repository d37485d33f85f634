using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;

namespace XmCdp.Sitecore.Tests.EndToEnd
{
    /// <summary>
    /// Runs the test site (dotnet/tests/WebHost) in a patched copy of xsp4: copies the site template, fills in the
    /// emulator URL, puts the built assemblies and the dllmap into bin/, patches xsp4.exe with XspPatch (Mono.Cecil)
    /// and starts it on a kernel-chosen port. Layout of XMCDP_TEST_OUT is the one xtask/src/dotnet.rs builds.
    /// </summary>
    internal sealed class XspHost : IDisposable
    {
        private const string OriginalXsp = "/usr/lib/mono/4.5/xsp4.exe";
        private readonly Process _process;
        private readonly StringBuilder _output = new StringBuilder();

        private XspHost(Process process, string baseUrl, string work)
        {
            _process = process;
            BaseUrl = baseUrl;
            WorkDir = work;
        }

        public string BaseUrl { get; private set; }
        public string WorkDir { get; }

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        /// <param name="nativeLibrary">Overrides the dllmap target (e.g. a missing file, to test failing open).</param>
        /// <param name="appSettings">Replaces or adds appSettings of the site's web.config (e.g. a wrong setting).</param>
        public static XspHost Start(string emulatorUrl, string nativeLibrary = null, IDictionary<string, string> appSettings = null)
        {
            var testOut = Environment.GetEnvironmentVariable("XMCDP_TEST_OUT");
            if (string.IsNullOrEmpty(testOut))
                throw new InvalidOperationException("XMCDP_TEST_OUT is not set: run through xtask::dotnet::test.");
            var work = Path.Combine(testOut, "e2e-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            var site = Path.Combine(work, "site");
            CopyTree(Path.Combine(testOut, "site"), site);
            var webConfig = Path.Combine(site, "web.config");
            var text = File.ReadAllText(webConfig).Replace("__EMULATOR_URL__", emulatorUrl);
            if (appSettings != null)
            {
                foreach (var kv in appSettings)
                {
                    var line = "<add key=\"" + kv.Key + "\" value=\"" + System.Security.SecurityElement.Escape(kv.Value) + "\" />";
                    var existing = new Regex("<add key=\"" + Regex.Escape(kv.Key) + "\" value=\"[^\"]*\" />");
                    text = existing.IsMatch(text) ? existing.Replace(text, line) : text.Replace("</appSettings>", "  " + line + "\n  </appSettings>");
                }
            }
            File.WriteAllText(webConfig, text);
            var bin = Path.Combine(site, "bin");
            Directory.CreateDirectory(bin);
            foreach (var name in new[] { "XmCdp", "XmCdp.Sitecore", "Sitecore.Kernel", "Sitecore.Mvc", "Sitecore.ExperienceForms", "XmCdp.TestHost" })
            {
                File.Copy(Path.Combine(testOut, name + ".dll"), Path.Combine(bin, name + ".dll"));
                var mdb = Path.Combine(testOut, name + ".dll.mdb");
                if (File.Exists(mdb)) File.Copy(mdb, Path.Combine(bin, name + ".dll.mdb"));
            }
            // The dllmap that maps [DllImport("xmcdp")] to the native library under test.
            if (nativeLibrary == null)
                File.Copy(Path.Combine(testOut, "XmCdp.dll.config"), Path.Combine(bin, "XmCdp.dll.config"));
            else
                File.WriteAllText(Path.Combine(bin, "XmCdp.dll.config"),
                    "<configuration><dllmap dll=\"xmcdp\" target=\"" + nativeLibrary + "\" /></configuration>");

            var xspDir = Path.Combine(work, "xsp");
            var tools = Path.Combine(testOut, "tools");
            Run("mono", Quote(Path.Combine(tools, "XspPatch.exe")) + " " + Quote(OriginalXsp) + " "
                + Quote(Path.Combine(tools, "XmCdp.XspTlsStub.dll")) + " " + Quote(xspDir), tools);

            var tmp = Path.Combine(work, "tmp");
            Directory.CreateDirectory(tmp);
            var psi = new ProcessStartInfo("mono",
                Quote(Path.Combine(xspDir, "xsp4.exe")) + " --address 127.0.0.1 --port 0 --nonstop --root " + Quote(site) + " --applications /:.")
            {
                WorkingDirectory = site,
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
            };
            psi.EnvironmentVariables["MONO_PATH"] = xspDir;
            psi.EnvironmentVariables["TMPDIR"] = tmp;
            psi.EnvironmentVariables["MONO_MANAGED_WATCHER"] = "disabled";
            // The library must be found through the dllmap in bin/XmCdp.dll.config, not a search path.
            psi.EnvironmentVariables.Remove("LD_LIBRARY_PATH");

            var process = new Process { StartInfo = psi };
            var host = new XspHost(process, null, work);
            var port = new ManualResetEvent(false);
            string portText = null;
            DataReceivedEventHandler onLine = (s, e) =>
            {
                if (e.Data == null) return;
                lock (host._output) host._output.AppendLine(e.Data);
                var m = Regex.Match(e.Data, @"Listening on port: (\d+)");
                if (m.Success)
                {
                    portText = m.Groups[1].Value;
                    port.Set();
                }
            };
            process.OutputDataReceived += onLine;
            process.ErrorDataReceived += onLine;
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!port.WaitOne(TimeSpan.FromSeconds(30)))
            {
                try { process.Kill(); } catch (InvalidOperationException) { }
                throw new InvalidOperationException("xsp4 did not report its port within 30 s:\n" + host.Output);
            }
            host.BaseUrl = "http://127.0.0.1:" + portText;
            return host;
        }

        public sealed class Response
        {
            public int Status;
            public string Body;
            public CookieCollection Cookies;
            public string[] SetCookieHeaders;

            public Cookie Cookie(string name) => Cookies[name];
        }

        public Response Get(string pathAndQuery, IDictionary<string, string> cookies = null, IDictionary<string, string> headers = null,
            string userAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")
            => Send("GET", pathAndQuery, null, cookies, headers, userAgent);

        /// <summary>A form post (<c>application/x-www-form-urlencoded</c>), as a browser submits a form.</summary>
        public Response Post(string pathAndQuery, IEnumerable<KeyValuePair<string, string>> form, IDictionary<string, string> cookies = null,
            IDictionary<string, string> headers = null)
        {
            var body = new StringBuilder();
            foreach (var kv in form)
                body.Append(body.Length > 0 ? "&" : "").Append(Uri.EscapeDataString(kv.Key)).Append('=').Append(Uri.EscapeDataString(kv.Value));
            return Send("POST", pathAndQuery, body.ToString(), cookies, headers, "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0");
        }

        private Response Send(string method, string pathAndQuery, string form, IDictionary<string, string> cookies, IDictionary<string, string> headers,
            string userAgent)
        {
            var request = (HttpWebRequest)WebRequest.Create(BaseUrl + pathAndQuery);
            request.Method = method;
            request.AllowAutoRedirect = false;
            request.Timeout = 60000;
            request.UserAgent = userAgent;
            request.CookieContainer = new CookieContainer();
            if (cookies != null)
                foreach (var c in cookies) request.CookieContainer.Add(new Cookie(c.Key, c.Value, "/", "127.0.0.1"));
            if (headers != null)
                foreach (var h in headers)
                {
                    if (h.Key == "Referer") request.Referer = h.Value;
                    else request.Headers[h.Key] = h.Value;
                }
            if (form != null)
            {
                var bytes = Encoding.UTF8.GetBytes(form);
                request.ContentType = "application/x-www-form-urlencoded";
                request.ContentLength = bytes.Length;
                using (var stream = request.GetRequestStream()) stream.Write(bytes, 0, bytes.Length);
            }
            HttpWebResponse response;
            try
            {
                response = (HttpWebResponse)request.GetResponse();
            }
            catch (WebException e) when (e.Response != null)
            {
                response = (HttpWebResponse)e.Response;
            }
            using (response)
            using (var reader = new StreamReader(response.GetResponseStream(), Encoding.UTF8))
            {
                return new Response
                {
                    Status = (int)response.StatusCode,
                    Body = reader.ReadToEnd(),
                    Cookies = response.Cookies,
                    SetCookieHeaders = response.Headers.GetValues("Set-Cookie") ?? new string[0],
                };
            }
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill();
                    _process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
            }
        }

        private static void Run(string file, string args, string cwd)
        {
            var psi = new ProcessStartInfo(file, args)
            {
                WorkingDirectory = cwd,
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using (var p = Process.Start(psi))
            {
                var stdout = p.StandardOutput.ReadToEndAsync();
                var stderr = p.StandardError.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0)
                    throw new InvalidOperationException(file + " " + args + " failed (" + p.ExitCode + "):\n" + stdout.Result + stderr);
            }
        }

        private static string Quote(string s) => "\"" + s + "\"";

        private static void CopyTree(string from, string to)
        {
            Directory.CreateDirectory(to);
            foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
            foreach (var d in Directory.GetDirectories(from)) CopyTree(d, Path.Combine(to, Path.GetFileName(d)));
        }
    }
}
