// Submit the OAuth form_post response at once; the page works without it.
document.getElementById("form-post").submit();
