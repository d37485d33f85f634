using System;
using System.Collections.Generic;
using Sitecore.Data.Items;

// stub-only: minimal stand-ins for the stock processors the shipped config is positioned against. They set the
// context the way Sitecore does before our processor runs; their rules (below) exist only for the test host.
namespace Sitecore.Pipelines.HttpRequest
{
    /// <summary>Site "admin" for /sitecore/admin/*, "shell" for other /sitecore/*, "shop" for /shop/*, else "website"; <c>sc_mode=edit|preview|debug</c> sets the page mode.</summary>
    public class SiteResolver : HttpRequestProcessor
    {
        public override void Process(HttpRequestArgs args)
        {
            var path = args.HttpContext.Request.Path ?? "/";
            var name = path.StartsWith("/sitecore/admin", StringComparison.OrdinalIgnoreCase) ? "admin"
                : path.StartsWith("/sitecore", StringComparison.OrdinalIgnoreCase) ? "shell"
                : path.StartsWith("/shop/", StringComparison.OrdinalIgnoreCase) ? "shop" : "website";
            Context.Site = new Sitecore.Sites.SiteContext(name);
            Context.Database = Sitecore.Data.Database.GetDatabase("web");
            switch (args.HttpContext.Request.QueryString["sc_mode"])
            {
                case "edit": Context.SetPageMode(Context.StubPageMode.ExperienceEditor); break;
                case "preview": Context.SetPageMode(Context.StubPageMode.Preview); break;
                case "debug": Context.SetPageMode(Context.StubPageMode.Debugging); break;
                default: Context.SetPageMode(Context.StubPageMode.Normal); break;
            }
        }
    }

    /// <summary>
    /// Authenticated as extranet\NAME when the test cookie <c>stub_user=NAME</c> is present (email NAME@example.com);
    /// <c>stub_sitecore_user=NAME</c> logs in the back-office user sitecore\NAME (sitecore\admin is the administrator).
    /// </summary>
    public class UserResolver : HttpRequestProcessor
    {
        public override void Process(HttpRequestArgs args)
        {
            var backend = args.HttpContext.Request.Cookies["stub_sitecore_user"];
            if (backend != null && !string.IsNullOrEmpty(backend.Value))
            {
                Context.SetUser(new Sitecore.Security.Accounts.User("sitecore\\" + backend.Value, true));
                return;
            }
            var c = args.HttpContext.Request.Cookies["stub_user"];
            if (c == null || string.IsNullOrEmpty(c.Value)) return;
            var user = new Sitecore.Security.Accounts.User("extranet\\" + c.Value, true);
            user.Profile.Email = c.Value + "@example.com";
            Context.SetUser(user);
        }
    }

    /// <summary><c>sc_lang</c> query parameter, else <c>en</c>; like Sitecore, an unknown language is ignored.</summary>
    public class LanguageResolver : HttpRequestProcessor
    {
        public override void Process(HttpRequestArgs args)
        {
            var lang = args.HttpContext.Request.QueryString["sc_lang"];
            try
            {
                Context.Language = Sitecore.Globalization.Language.Parse(string.IsNullOrEmpty(lang) ? "en" : lang);
            }
            catch (System.Globalization.CultureNotFoundException)
            {
                Context.Language = Sitecore.Globalization.Language.Parse("en");
            }
        }
    }

    /// <summary>Looks the request path up in <see cref="StubContent"/>.</summary>
    public class ItemResolver : HttpRequestProcessor
    {
        public override void Process(HttpRequestArgs args)
        {
            Context.Item = StubContent.Find(args.HttpContext.Request.Path);
        }
    }

    public class DeviceSimulatorResolver : HttpRequestProcessor
    {
        public override void Process(HttpRequestArgs args)
        {
        }
    }

    public class LayoutResolver : HttpRequestProcessor
    {
        public override void Process(HttpRequestArgs args)
        {
        }
    }

    public class ExecuteRequest : HttpRequestProcessor
    {
        public override void Process(HttpRequestArgs args)
        {
        }
    }

    /// <summary>stub-only: the content tree of the test site (path → item).</summary>
    public static class StubContent
    {
        private static readonly Dictionary<string, Item> s_items = new Dictionary<string, Item>(StringComparer.OrdinalIgnoreCase);

        public static void Register(string path, string name)
        {
            lock (s_items)
                s_items[Normalize(path)] = new Item(new Sitecore.Data.ID(Guid.NewGuid()), name, "/sitecore/content/home" + (path == "/" ? "" : path));
        }

        /// <summary>An item by full path (<c>/sitecore/content/home/...</c>) or ID, as Database.GetItem.</summary>
        public static Item FindByPathOrId(string pathOrId)
        {
            if (string.IsNullOrEmpty(pathOrId)) return null;
            lock (s_items)
            {
                foreach (var item in s_items.Values)
                {
                    if (string.Equals(item.Paths.FullPath, pathOrId.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)
                        || string.Equals(item.ID.ToString(), pathOrId, StringComparison.OrdinalIgnoreCase))
                        return item;
                }
            }
            return null;
        }

        public static Item Find(string path)
        {
            lock (s_items)
            {
                Item item;
                return s_items.TryGetValue(Normalize(path ?? "/"), out item) ? item : null;
            }
        }

        private static string Normalize(string path)
        {
            var p = path.TrimEnd('/');
            return p.Length == 0 ? "/" : p;
        }
    }
}

namespace Sitecore.Pipelines.Loader
{
    public class ShowVersion
    {
        public void Process(Sitecore.Pipelines.PipelineArgs args)
        {
        }
    }
}
