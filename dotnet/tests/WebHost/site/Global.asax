<%@ Application Language="C#" Inherits="XmCdp.TestHost.Global" %>
