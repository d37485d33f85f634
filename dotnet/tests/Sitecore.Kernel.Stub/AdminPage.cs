using System;
using System.Web;

namespace Sitecore.sitecore.admin
{
    /// <summary>
    /// Stand-in for Sitecore's base class of the /sitecore/admin pages. As on the host, <see cref="CheckSecurity()"/>
    /// lets only administrators through (developers too with <c>CheckSecurity(true)</c>); anyone else is redirected
    /// to the admin login page with the page as returnUrl, and the request ends there (Response.Redirect with
    /// endResponse, so nothing of the page renders).
    /// </summary>
    public class AdminPage : System.Web.UI.Page
    {
        protected void CheckSecurity()
        {
            CheckSecurity(false);
        }

        protected void CheckSecurity(bool isDeveloperAllowed)
        {
            var user = Sitecore.Context.User;
            if (user.IsAdministrator) return;
            if (isDeveloperAllowed && user.IsInRole("sitecore\\Developer")) return;
            Response.Redirect("/sitecore/admin/login.aspx?returnUrl=" + HttpUtility.UrlEncode(Request.Url.PathAndQuery), true);
        }
    }
}
